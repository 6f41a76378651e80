"""API tokens against the machine's PostgreSQL: the admin endpoints (tenant admins only, other
tenants' ids 404) and requests authenticated with a token (scopes 403, revoked or expired 401).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from postdesk_runtime import Sessions
from postdesk_schema import ApiToken, AuditLog, User
from sqlalchemy import update
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]


async def create_token(
    client: httpx.AsyncClient, auth: Auth, world: Any, scopes: list[str], acts_as: str = "primary"
) -> dict[str, Any]:
    body = {"name": "crm", "scopes": scopes, "acts_as_user_id": str(world.users[acts_as].id)}
    response = await client.post("/admin/api-tokens", json=body, headers=auth("admin"))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def expire(sessions: Sessions, token_id: str) -> None:
    async with sessions() as session:
        await session.execute(
            update(ApiToken)
            .where(col(ApiToken.id) == uuid.UUID(token_id))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()


class TestAdminEndpoints:
    async def test_create_shows_the_token_once_and_audits(
        self, client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
    ) -> None:
        """The token (pdk_...) is in the create answer only; list and get show its prefix."""
        created = await create_token(client, auth, world, ["tickets:read"])
        assert created["token"].startswith("pdk_")
        assert created["token"].startswith(created["prefix"])
        listed = (await client.get("/admin/api-tokens", headers=auth("admin"))).json()
        mine = [item for item in listed if item["id"] == created["id"]]
        assert len(mine) == 1
        assert "token" not in mine[0]
        one = await client.get(f"/admin/api-tokens/{created['id']}", headers=auth("admin"))
        assert one.json()["scopes"] == ["tickets:read"]
        async with sessions() as session:
            row = await session.get(ApiToken, uuid.UUID(created["id"]))
            assert row is not None
            assert created["token"] not in row.token_hash
            actions = await session.scalars(
                select(AuditLog.action).where(col(AuditLog.object_id) == created["id"])
            )
            assert list(actions) == ["api_token.created"]

    async def test_other_tenants_token_ids_are_404(
        self, client: httpx.AsyncClient, auth: Auth, world: Any
    ) -> None:
        """Tenant B's admin neither sees, lists nor revokes tenant A's token."""
        created = await create_token(client, auth, world, ["tickets:read"])
        path = f"/admin/api-tokens/{created['id']}"
        assert (await client.get(path, headers=auth("admin_b"))).status_code == 404
        assert (await client.delete(path, headers=auth("admin_b"))).status_code == 404
        listed = (await client.get("/admin/api-tokens", headers=auth("admin_b"))).json()
        assert created["id"] not in {item["id"] for item in listed}
        assert (await client.get(path, headers=bearer(created["token"]))).status_code == 403
        unknown = f"/admin/api-tokens/{uuid.uuid4()}"
        assert (await client.get(unknown, headers=auth("admin"))).status_code == 404

    @pytest.mark.parametrize("role", ["primary", "viewer", "unassigned"])
    async def test_members_are_refused(
        self, client: httpx.AsyncClient, auth: Auth, world: Any, role: str
    ) -> None:
        """Only tenant admins create, list, read or revoke tokens."""
        created = await create_token(client, auth, world, ["tickets:read"])
        path = f"/admin/api-tokens/{created['id']}"
        body = {
            "name": "x",
            "scopes": ["tickets:read"],
            "acts_as_user_id": str(world.users[role].id),
        }
        assert (
            await client.post("/admin/api-tokens", json=body, headers=auth(role))
        ).status_code == 403
        assert (await client.get("/admin/api-tokens", headers=auth(role))).status_code == 403
        assert (await client.get(path, headers=auth(role))).status_code == 403
        assert (await client.delete(path, headers=auth(role))).status_code == 403

    @pytest.mark.parametrize(
        ("overrides", "status"),
        [
            ({"acts_as": "admin_b"}, 422),
            ({"acts_as": "inactive"}, 422),
            ({"scopes": ["tickets:delete"]}, 400),
            ({"scopes": []}, 400),
            ({"expires_at": "2020-01-01T00:00:00Z"}, 400),
            ({"expires_at": 4102444800}, 400),  # a Unix time is no documented date-time
        ],
    )
    async def test_refused_creations(
        self,
        client: httpx.AsyncClient,
        auth: Auth,
        world: Any,
        overrides: dict[str, Any],
        status: int,
    ) -> None:
        """acts_as another tenant's or an inactive user, an unknown or no scope, a past
        expiry or one given as a number: refused."""
        body: dict[str, Any] = {
            "name": "crm",
            "scopes": overrides.get("scopes", ["tickets:read"]),
            "acts_as_user_id": str(world.users[overrides.get("acts_as", "primary")].id),
        }
        if "expires_at" in overrides:
            body["expires_at"] = overrides["expires_at"]
        response = await client.post("/admin/api-tokens", json=body, headers=auth("admin"))
        assert response.status_code == status, response.text


class TestTokenRequests:
    async def test_token_acts_as_its_user_within_scopes(
        self, client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
    ) -> None:
        """tickets:read lists the primary's tickets only, and records last_used_at; writes,
        admin routes and session-only routes are 403."""
        created = await create_token(client, auth, world, ["tickets:read"])
        headers = bearer(created["token"])
        response = await client.get("/tickets", headers=headers, params={"limit": 100})
        assert response.status_code == 200, response.text
        seen = {uuid.UUID(item["id"]) for item in response.json()["items"]}
        assert seen == world.tickets_of("support", "bulk")
        ticket = world.tickets["support_1"].id
        assert (await client.delete(f"/tickets/{ticket}", headers=headers)).status_code == 403
        assert (await client.get("/admin/webhooks", headers=headers)).status_code == 403
        assert (await client.get("/admin/api-tokens", headers=headers)).status_code == 403
        body = {"current_password": "x", "new_password": "y" * 20}
        assert (await client.post("/me/password", json=body, headers=headers)).status_code == 403
        async with sessions() as session:
            row = await session.get(ApiToken, uuid.UUID(created["id"]))
            assert row is not None
            assert row.last_used_at is not None

    async def test_admin_scopes(self, client: httpx.AsyncClient, auth: Auth, world: Any) -> None:
        """webhooks:manage opens the webhook admin routes; admin:read alone does not."""
        manage = await create_token(client, auth, world, ["webhooks:manage"], acts_as="admin")
        read = await create_token(client, auth, world, ["admin:read"], acts_as="admin")
        allowed = await client.get("/admin/webhooks", headers=bearer(manage["token"]))
        assert allowed.status_code == 200, allowed.text
        assert (
            await client.get("/admin/webhooks", headers=bearer(read["token"]))
        ).status_code == 403
        assert (await client.get("/tickets", headers=bearer(manage["token"]))).status_code == 403

    async def test_revoked_expired_and_unknown_tokens_are_401(
        self, client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
    ) -> None:
        """Revoked (audited; revoking twice is fine), expired and never-issued tokens: 401."""
        revoked = await create_token(client, auth, world, ["tickets:read"])
        path = f"/admin/api-tokens/{revoked['id']}"
        assert (await client.delete(path, headers=auth("admin"))).status_code == 204
        assert (await client.delete(path, headers=auth("admin"))).status_code == 204
        assert (await client.get(path, headers=auth("admin"))).json()["revoked_at"] is not None
        expired = await create_token(client, auth, world, ["tickets:read"])
        await expire(sessions, expired["id"])
        for token in (revoked["token"], expired["token"], "pdk_never-issued"):
            assert (await client.get("/tickets", headers=bearer(token))).status_code == 401
        async with sessions() as session:
            actions = await session.scalars(
                select(AuditLog.action).where(col(AuditLog.object_id) == revoked["id"])
            )
            assert sorted(actions) == ["api_token.created", "api_token.revoked"]

    async def test_token_of_a_deactivated_user_is_401(
        self, client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
    ) -> None:
        """A token stops working when the user it acts as is deactivated."""
        created = await create_token(client, auth, world, ["tickets:read"], acts_as="unassigned")
        headers = bearer(created["token"])
        assert (await client.get("/tickets", headers=headers)).status_code == 200
        user_id = world.users["unassigned"].id
        async with sessions() as session:
            await session.execute(
                update(User).where(col(User.id) == user_id).values(is_active=False)
            )
            await session.commit()
        try:
            assert (await client.get("/tickets", headers=headers)).status_code == 401
        finally:
            async with sessions() as session:
                await session.execute(
                    update(User).where(col(User.id) == user_id).values(is_active=True)
                )
                await session.commit()
