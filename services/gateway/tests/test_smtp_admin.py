"""POST /admin/smtp/test: a tenant admin tests the stored SMTP settings. Real PostgreSQL and
a real SMTP server (aiosmtpd in the test's event loop, which the in-process app shares).

`world` (conftest) is this module's own; the tests write their SMTP rows through
`save_server`, sealed with the gateway's keyring, as the CLI does.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions
from postdesk_runtime.keyring import Keyring
from postdesk_schema import SmtpServer
from postdesk_smtp.settings import ServerChanges, save_server
from postdesk_testing.problems import assert_problem
from postdesk_testing.smtp import smtp_server

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
PASSWORD = "s3cret pass phrase"


async def store(
    sessions: Sessions,
    keyring: Keyring,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID | None = None,
    **changes: Any,
) -> SmtpServer:
    async with sessions() as session, session.begin():
        server, _ = await save_server(
            session,
            keyring,
            tenant_id=tenant_id,
            account_id=account_id,
            changes=ServerChanges(**changes),
        )
        return server


async def stored(sessions: Sessions, server_id: uuid.UUID) -> SmtpServer:
    async with sessions() as session:
        found = await session.get(SmtpServer, server_id)
    assert found is not None
    return found


@pytest.mark.usefixtures("clean_smtp_servers")
class TestSmtpTest:
    async def test_success_for_the_tenant_default_is_reported_and_recorded(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        async with smtp_server(users={"bob": PASSWORD}) as smtp:
            row = await store(
                sessions,
                settings.keyring(),
                world.tenant_a,
                host="127.0.0.1",
                port=smtp.port,
                security="none",
                username="bob",
                password=PASSWORD,
            )
            response = await client.post("/admin/smtp/test", json={}, headers=auth("admin"))
        assert response.status_code == 200, response.text
        body = response.json()
        sender = body["sender"]
        assert body == {
            "ok": True,
            "stage": "done",
            "reason": f"connected to 127.0.0.1:{smtp.port} with no TLS, logged in as bob; "
            f"sender {sender} accepted: 250 OK",
            "outcome": "sent",
            "server": f"127.0.0.1:{smtp.port} (none)",
            "sender": sender,
        }
        assert smtp.senders == [sender]
        assert sender in {a.address for a in world.accounts.values()}  # one of the tenant's
        after = await stored(sessions, row.id)
        assert after.last_test_at is not None
        assert after.last_test_result == "ok: " + body["reason"]

    async def test_failure_gives_the_stage_and_reason(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        support = world.accounts["support"]
        async with smtp_server(users={"bob": PASSWORD}) as smtp:
            await store(sessions, settings.keyring(), world.tenant_a, host="smtp.postdesk.invalid")
            override = await store(
                sessions,
                settings.keyring(),
                world.tenant_a,
                support.id,
                host="127.0.0.1",
                port=smtp.port,
                security="none",
                username="bob",
                password="wrong",
            )
            response = await client.post(
                "/admin/smtp/test", json={"account_id": str(support.id)}, headers=auth("admin")
            )
            # another account goes through the tenant default
            default = await client.post(
                "/admin/smtp/test",
                json={"account_id": str(world.accounts["sales"].id)},
                headers=auth("admin"),
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["ok"], body["stage"], body["outcome"]) == (False, "auth", "permanent")
        assert body["reason"].startswith("535 ")
        assert body["sender"] == support.address
        assert smtp.senders == []
        assert (await stored(sessions, override.id)).last_test_result.startswith(
            "permanent failure at auth: 535 "
        )
        assert default.status_code == 200, default.text
        assert (default.json()["stage"], default.json()["server"]) == (
            "dns",
            "smtp.postdesk.invalid:587 (starttls)",
        )

    async def test_an_inactive_override_is_not_what_is_tested(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        support = world.accounts["support"]
        await store(sessions, settings.keyring(), world.tenant_a, host="smtp.postdesk.invalid")
        await store(
            sessions,
            settings.keyring(),
            world.tenant_a,
            support.id,
            host="override.postdesk.invalid",
            is_active=False,
        )
        response = await client.post(
            "/admin/smtp/test", json={"account_id": str(support.id)}, headers=auth("admin")
        )
        assert response.json()["server"] == "smtp.postdesk.invalid:587 (starttls)"

    async def test_a_password_the_keyring_cannot_open_is_reported(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
    ) -> None:
        stranger = Keyring([("retired", os.urandom(32))])
        await store(sessions, stranger, world.tenant_a, host="smtp.example.com", password="x")
        response = await client.post("/admin/smtp/test", json={}, headers=auth("admin"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["ok"], body["stage"]) == (False, "settings")
        assert "retired" in body["reason"]

    @pytest.mark.parametrize("role", ["primary", "viewer", "unassigned"])
    async def test_only_tenant_admins(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
        role: str,
    ) -> None:
        await store(sessions, settings.keyring(), world.tenant_a, host="smtp.postdesk.invalid")
        response = await client.post("/admin/smtp/test", json={}, headers=auth(role))
        assert_problem(response, 403)

    async def test_404_without_settings_or_for_another_tenants_account(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        assert_problem(await client.post("/admin/smtp/test", json={}, headers=auth("admin")), 404)
        await store(sessions, settings.keyring(), world.tenant_b, host="smtp.postdesk.invalid")
        foreign = world.accounts["b_support"].id
        response = await client.post(
            "/admin/smtp/test", json={"account_id": str(foreign)}, headers=auth("admin")
        )
        assert assert_problem(response, 404)["detail"] == "no such account"
        # tenant B's admin does reach tenant B's settings
        own = await client.post(
            "/admin/smtp/test", json={"account_id": str(foreign)}, headers=auth("admin_b")
        )
        assert own.json()["stage"] == "dns"

    async def test_without_a_token(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.post("/admin/smtp/test", json={}), 401)
