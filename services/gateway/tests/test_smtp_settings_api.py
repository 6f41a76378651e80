"""GET/PUT /admin/smtp and PUT/DELETE /admin/smtp/accounts/{id}: a tenant admin sees and sets
the SMTP servers mail goes out through. Real PostgreSQL; `world` (conftest) is this module's
own. The password is write-only: no answer and no audit row may carry it, sealed or plain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, SmtpServer
from postdesk_smtp.settings import open_password
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
PASSWORD = "s3cret-smtp-pass phrase"
DEFAULT = {
    "host": "smtp.acme.example",
    "security": "starttls",
    "username": "postdesk",
    "password": PASSWORD,
    "from_domain": "Acme.Example",
}


async def stored_rows(sessions: Sessions, world: Any) -> list[SmtpServer]:
    async with sessions() as session:
        found = await session.scalars(
            select(SmtpServer).where(col(SmtpServer.tenant_id) == world.tenant_a)
        )
        return list(found.all())


async def smtp_audit(sessions: Sessions, world: Any) -> list[AuditLog]:
    async with sessions() as session:
        found = await session.scalars(
            select(AuditLog)
            .where(
                col(AuditLog.tenant_id) == world.tenant_a,
                col(AuditLog.object_type) == "smtp_server",
            )
            .order_by(col(AuditLog.created_at))
        )
        return list(found.all())


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert PASSWORD not in response.text
    return response.json() if response.content else None


@pytest.mark.usefixtures("clean_smtp_servers")
class TestSmtpSettings:
    async def test_default_is_set_shown_and_its_password_never_answered(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        admin = auth("admin")
        assert ok(await client.get("/admin/smtp", headers=admin)) == {
            "default": None,
            "overrides": [],
        }
        saved = ok(await client.put("/admin/smtp", json=DEFAULT, headers=admin))
        assert saved["host"] == "smtp.acme.example"
        assert (saved["port"], saved["security"]) == (587, "starttls")
        assert (saved["has_password"], saved["from_domain"]) == (True, "acme.example")
        assert saved["account_id"] is None
        assert "password" not in saved
        shown = ok(await client.get("/admin/smtp", headers=admin))
        assert shown["default"] == saved
        [row] = await stored_rows(sessions, world)
        assert row.password_sealed not in str(shown)
        assert open_password(settings.keyring(), row.password_sealed) == PASSWORD
        entry = (await smtp_audit(sessions, world))[-1]
        assert entry.action == "smtp_server.created"
        assert PASSWORD not in str(entry.detail)
        assert row.password_sealed not in str(entry.detail)

    async def test_partial_save_keeps_the_password_and_empty_clears_it(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        admin = auth("admin")
        earlier = len(await smtp_audit(sessions, world))
        ok(await client.put("/admin/smtp", json=DEFAULT, headers=admin))
        changed = ok(
            await client.put(
                "/admin/smtp", json={"security": "tls", "is_active": False}, headers=admin
            )
        )
        assert (changed["port"], changed["security"], changed["is_active"]) == (465, "tls", False)
        assert (changed["host"], changed["has_password"]) == ("smtp.acme.example", True)
        [row] = await stored_rows(sessions, world)
        assert open_password(settings.keyring(), row.password_sealed) == PASSWORD
        cleared = ok(await client.put("/admin/smtp", json={"password": ""}, headers=admin))
        assert cleared["has_password"] is False
        [row] = await stored_rows(sessions, world)
        assert row.password_sealed == ""
        actions = [e.action for e in await smtp_audit(sessions, world)][earlier:]
        assert actions == ["smtp_server.created", "smtp_server.updated", "smtp_server.updated"]

    async def test_refused_settings(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        admin = auth("admin")
        first = await client.put("/admin/smtp", json={"port": 25}, headers=admin)
        assert first.status_code == 422, first.text
        assert "needs a host" in first.json()["detail"]
        bad_host = await client.put("/admin/smtp", json={"host": "smtp example"}, headers=admin)
        assert bad_host.status_code == 422, bad_host.text
        for field in ("host", "username", "from_domain", "password"):
            body = DEFAULT | {field: "smtp.acme.example\r\nX-Evil: 1"}
            response = await client.put("/admin/smtp", json=body, headers=admin)
            assert 400 <= response.status_code < 500, (field, response.text)
            assert PASSWORD not in response.text
        unknown = await client.put("/admin/smtp", json=DEFAULT | {"id": "x"}, headers=admin)
        assert unknown.status_code == 400, unknown.text
        assert await stored_rows(sessions, world) == []

    @pytest.mark.parametrize("role", ["primary", "viewer", "unassigned"])
    async def test_only_tenant_admins(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions, role: str
    ) -> None:
        support = world.accounts["support"].id
        assert (await client.get("/admin/smtp", headers=auth(role))).status_code == 403
        assert (
            await client.put("/admin/smtp", json=DEFAULT, headers=auth(role))
        ).status_code == 403
        override = f"/admin/smtp/accounts/{support}"
        assert (await client.put(override, json=DEFAULT, headers=auth(role))).status_code == 403
        assert (await client.delete(override, headers=auth(role))).status_code == 403
        assert await stored_rows(sessions, world) == []

    async def test_override_is_set_shown_and_removed(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        admin, support = auth("admin"), world.accounts["support"]
        earlier = len(await smtp_audit(sessions, world))
        ok(await client.put("/admin/smtp", json=DEFAULT, headers=admin))
        url = f"/admin/smtp/accounts/{support.id}"
        body = {"host": "relay.acme.example", "security": "none", "password": PASSWORD}
        saved = ok(await client.put(url, json=body, headers=admin))
        assert (saved["account_id"], saved["account_address"]) == (str(support.id), support.address)
        assert (saved["port"], saved["has_password"]) == (25, True)
        shown = ok(await client.get("/admin/smtp", headers=admin))
        assert shown["overrides"] == [saved]
        assert shown["default"]["host"] == "smtp.acme.example"
        ok(await client.delete(url, headers=admin), 204)
        shown = ok(await client.get("/admin/smtp", headers=admin))
        assert (shown["overrides"], shown["default"]["host"]) == ([], "smtp.acme.example")
        ok(await client.delete(url, headers=admin), 204)  # nothing left to remove: no error
        actions = [e.action for e in await smtp_audit(sessions, world)][earlier:]
        assert actions == ["smtp_server.created", "smtp_server.created", "smtp_server.deleted"]

    async def test_another_tenants_account_is_404(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        foreign = world.accounts["b_support"].id
        url = f"/admin/smtp/accounts/{foreign}"
        assert (await client.put(url, json=DEFAULT, headers=auth("admin"))).status_code == 404
        assert (await client.delete(url, headers=auth("admin"))).status_code == 404
        async with sessions() as session:
            found = await session.scalars(
                select(SmtpServer).where(col(SmtpServer.tenant_id) == world.tenant_b)
            )
            assert list(found.all()) == []
        # tenant B's admin sees nothing of A's
        ok(await client.put("/admin/smtp", json=DEFAULT, headers=auth("admin")))
        theirs = ok(await client.get("/admin/smtp", headers=auth("admin_b")))
        assert theirs == {"default": None, "overrides": []}
