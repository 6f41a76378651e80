"""The webhook admin API: subscriptions, secrets, the address guard, deliveries, settings.
Real PostgreSQL; URLs are public IP literals or loopback, so no DNS lookup leaves the host.

`world` (conftest) is this module's own: tenant A with its admin and agents, tenant B with
its admin.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions
from postdesk_runtime.webhook_signing import open_secret
from postdesk_schema import AuditLog, Tenant, WebhookDelivery, WebhookSubscription
from postdesk_testing.problems import problem_detail
from sqlalchemy import select, update
from sqlmodel import col, delete

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
PUBLIC_URL = "https://93.184.215.14/hooks/postdesk"


def body(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
async def clean(sessions: Sessions, world: Any) -> AsyncIterator[None]:
    """Every test starts and ends without webhooks and with private targets refused."""

    async def remove() -> None:
        tenants = [world.tenant_a, world.tenant_b]
        async with sessions() as session, session.begin():
            await session.execute(
                delete(WebhookDelivery).where(col(WebhookDelivery.tenant_id).in_(tenants))
            )
            await session.execute(
                delete(WebhookSubscription).where(col(WebhookSubscription.tenant_id).in_(tenants))
            )
            await session.execute(
                update(Tenant).where(col(Tenant.id).in_(tenants)).values(settings={})
            )

    await remove()
    yield
    await remove()


async def create(
    client: httpx.AsyncClient, auth: Auth, role: str = "admin", **fields: Any
) -> dict[str, Any]:
    payload = {"url": PUBLIC_URL, "event_types": ["ticket.created", "sla.breached"]} | fields
    created: dict[str, Any] = body(
        await client.post("/admin/webhooks", json=payload, headers=auth(role)), 201
    )
    return created


async def stored(sessions: Sessions, subscription_id: str) -> WebhookSubscription | None:
    async with sessions() as session:
        return await session.get(WebhookSubscription, uuid.UUID(subscription_id))


async def add_delivery(
    sessions: Sessions, subscription: dict[str, Any], world: Any, **fields: Any
) -> WebhookDelivery:
    event_id = uuid.uuid4()
    values: dict[str, Any] = {
        "tenant_id": world.tenant_a,
        "subscription_id": uuid.UUID(subscription["id"]),
        "event_id": event_id,
        "event_type": "ticket.created",
        "payload": {"id": str(event_id), "type": "ticket.created"},
        "status": "pending",
        "attempts": 0,
    }
    delivery = WebhookDelivery(**(values | fields))
    async with sessions() as session, session.begin():
        session.add(delivery)
    return delivery


@pytest.mark.usefixtures("clean")
class TestSubscriptions:
    async def test_secret_is_shown_once_and_stored_sealed(
        self,
        client: httpx.AsyncClient,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
        world: Any,
    ) -> None:
        """Create answers the secret; get and list never do; the row holds it sealed."""
        created = await create(client, auth, description="CRM", event_types=["ticket.created"] * 2)
        secret = created["secret"]
        assert len(secret) >= 40
        assert created["url"] == PUBLIC_URL
        assert created["event_types"] == ["ticket.created"]
        assert (created["description"], created["is_active"]) == ("CRM", True)
        assert created["created_by"] == str(world.users["admin"].id)

        fetched = body(
            await client.get(f"/admin/webhooks/{created['id']}", headers=auth("admin")), 200
        )
        listed = body(await client.get("/admin/webhooks", headers=auth("admin")), 200)
        assert "secret" not in fetched
        assert fetched == {k: v for k, v in created.items() if k != "secret"}
        assert [item["id"] for item in listed["items"]] == [created["id"]]
        assert secret not in str(listed)

        row = await stored(sessions, created["id"])
        assert row is not None
        assert secret not in row.secret_sealed
        assert open_secret(settings.keyring(), row.secret_sealed) == secret
        async with sessions() as session:
            actions = (
                await session.scalars(
                    select(col(AuditLog.action)).where(col(AuditLog.object_id) == created["id"])
                )
            ).all()
        assert actions == ["webhook.created"]

    async def test_rotating_the_secret_shows_the_new_one_once(
        self,
        client: httpx.AsyncClient,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        """rotate-secret answers a new secret, which replaces the sealed one."""
        created = await create(client, auth)
        rotated = body(
            await client.post(
                f"/admin/webhooks/{created['id']}/rotate-secret", headers=auth("admin")
            ),
            200,
        )
        assert rotated["subscription_id"] == created["id"]
        assert rotated["secret"] != created["secret"]
        row = await stored(sessions, created["id"])
        assert row is not None
        assert open_secret(settings.keyring(), row.secret_sealed) == rotated["secret"]

    async def test_update_changes_only_what_is_sent(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        """PATCH changes the given fields and keeps the rest."""
        created = await create(client, auth, description="old")
        changed = body(
            await client.patch(
                f"/admin/webhooks/{created['id']}",
                json={"event_types": ["mail.failed"], "is_active": False},
                headers=auth("admin"),
            ),
            200,
        )
        assert (changed["event_types"], changed["is_active"]) == (["mail.failed"], False)
        assert (changed["url"], changed["description"]) == (PUBLIC_URL, "old")
        assert changed["updated_at"] > created["updated_at"]

    async def test_unknown_event_types_and_fields_are_refused(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        """Only webhook event types; internal ones and unknown fields are a 400."""
        for payload in (
            {"url": PUBLIC_URL, "event_types": ["mail.received"]},
            {"url": PUBLIC_URL, "event_types": []},
            {"url": PUBLIC_URL, "event_types": ["ticket.created"], "secret": "mine"},
        ):
            response = await client.post("/admin/webhooks", json=payload, headers=auth("admin"))
            problem_detail(response, 400)

    async def test_delete_removes_the_subscription_and_its_deliveries(
        self, client: httpx.AsyncClient, auth: Auth, sessions: Sessions, world: Any
    ) -> None:
        """DELETE is 204; the subscription and its deliveries are gone."""
        created = await create(client, auth)
        delivery = await add_delivery(sessions, created, world)
        url = f"/admin/webhooks/{created['id']}"
        assert (await client.delete(url, headers=auth("admin"))).status_code == 204
        problem_detail(await client.get(url, headers=auth("admin")), 404)
        async with sessions() as session:
            assert await session.get(WebhookDelivery, delivery.id) is None


@pytest.mark.usefixtures("clean")
class TestAddressGuard:
    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
            ("http://localhost/hook", "loopback address"),
            ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
            ("http://169.254.169.254/latest/meta-data", "link-local address"),
            ("http://100.64.1.1/hook", "shared (CGNAT) address"),
            ("http://[::ffff:192.168.0.1]/hook", "private address"),
            ("ftp://93.184.215.14/hook", "http:// or https://"),
            ("https://user:pw@93.184.215.14/hook", "user name or password"),
        ],
    )
    async def test_refused_urls_are_422_with_the_reason(
        self, client: httpx.AsyncClient, auth: Auth, url: str, reason: str
    ) -> None:
        """A URL the guard refuses is not saved; the answer says why."""
        response = await client.post(
            "/admin/webhooks",
            json={"url": url, "event_types": ["ticket.created"]},
            headers=auth("admin"),
        )
        assert reason in problem_detail(response, 422)
        assert body(await client.get("/admin/webhooks", headers=auth("admin")), 200) == {
            "items": []
        }

    async def test_changing_the_url_is_checked_too(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        """PATCH to a private URL is refused and the stored URL stays."""
        created = await create(client, auth)
        url = f"/admin/webhooks/{created['id']}"
        response = await client.patch(
            url, json={"url": "http://192.168.1.20/hook"}, headers=auth("admin")
        )
        assert "private address" in problem_detail(response, 422)
        assert body(await client.get(url, headers=auth("admin")), 200)["url"] == PUBLIC_URL

    async def test_tenant_setting_allows_private_but_not_link_local_targets(
        self, client: httpx.AsyncClient, auth: Auth, sessions: Sessions, world: Any
    ) -> None:
        """With allow_private_targets a loopback URL saves; metadata addresses never do; the
        setting is the tenant's own."""
        settings_url = "/admin/webhook-settings"
        assert body(await client.get(settings_url, headers=auth("admin")), 200) == {
            "allow_private_targets": False
        }
        saved = body(
            await client.put(
                settings_url, json={"allow_private_targets": True}, headers=auth("admin")
            ),
            200,
        )
        assert saved == {"allow_private_targets": True}
        assert body(await client.get(settings_url, headers=auth("admin_b")), 200) == {
            "allow_private_targets": False
        }

        created = await create(client, auth, url="http://127.0.0.1:9000/hook")
        assert created["url"] == "http://127.0.0.1:9000/hook"
        response = await client.post(
            "/admin/webhooks",
            json={"url": "http://169.254.169.254/", "event_types": ["ticket.created"]},
            headers=auth("admin"),
        )
        assert "link-local" in problem_detail(response, 422)
        async with sessions() as session:
            tenant = await session.get(Tenant, world.tenant_a)
        assert tenant is not None
        assert tenant.settings["webhooks_allow_private_targets"] is True


@pytest.mark.usefixtures("clean")
class TestAccess:
    async def test_non_admins_are_forbidden(self, client: httpx.AsyncClient, auth: Auth) -> None:
        """Agents get 403 on every webhook route, for existing ids too."""
        created = await create(client, auth)
        base = f"/admin/webhooks/{created['id']}"
        for role in ("primary", "viewer"):
            requests = [
                client.get("/admin/webhooks", headers=auth(role)),
                client.post(
                    "/admin/webhooks",
                    json={"url": PUBLIC_URL, "event_types": ["ticket.created"]},
                    headers=auth(role),
                ),
                client.get(base, headers=auth(role)),
                client.patch(base, json={"is_active": False}, headers=auth(role)),
                client.delete(base, headers=auth(role)),
                client.post(f"{base}/rotate-secret", headers=auth(role)),
                client.post(f"{base}/test", headers=auth(role)),
                client.get(f"{base}/deliveries", headers=auth(role)),
                client.get("/admin/webhook-settings", headers=auth(role)),
                client.put(
                    "/admin/webhook-settings",
                    json={"allow_private_targets": True},
                    headers=auth(role),
                ),
            ]
            for request in requests:
                problem_detail(await request, 403)

    async def test_another_tenants_ids_are_not_found(
        self, client: httpx.AsyncClient, auth: Auth, sessions: Sessions, world: Any
    ) -> None:
        """Tenant B's admin gets 404 for tenant A's subscription and delivery, changes
        nothing, and does not see them listed."""
        created = await create(client, auth)
        delivery = await add_delivery(sessions, created, world, status="failed")
        base = f"/admin/webhooks/{created['id']}"
        requests = [
            client.get(base, headers=auth("admin_b")),
            client.patch(base, json={"is_active": False}, headers=auth("admin_b")),
            client.delete(base, headers=auth("admin_b")),
            client.post(f"{base}/rotate-secret", headers=auth("admin_b")),
            client.post(f"{base}/test", headers=auth("admin_b")),
            client.get(f"{base}/deliveries", headers=auth("admin_b")),
            client.post(f"{base}/deliveries/{delivery.id}/redeliver", headers=auth("admin_b")),
        ]
        for request in requests:
            problem_detail(await request, 404)
        assert body(await client.get("/admin/webhooks", headers=auth("admin_b")), 200) == {
            "items": []
        }
        row = await stored(sessions, created["id"])
        assert row is not None
        assert row.is_active
        async with sessions() as session:
            untouched = await session.get(WebhookDelivery, delivery.id)
        assert untouched is not None
        assert untouched.status == "failed"


@pytest.mark.usefixtures("clean")
class TestDeliveries:
    async def test_ping_is_queued_and_listed(self, client: httpx.AsyncClient, auth: Auth) -> None:
        """test queues a pending webhook.ping delivery, due now; not for an inactive one."""
        created = await create(client, auth)
        base = f"/admin/webhooks/{created['id']}"
        ping = body(await client.post(f"{base}/test", headers=auth("admin")), 202)
        assert (ping["event_type"], ping["status"], ping["attempts"]) == (
            "webhook.ping",
            "pending",
            0,
        )
        assert ping["payload"]["type"] == "webhook.ping"
        assert ping["payload"]["payload"]["subscription_id"] == created["id"]
        listed = body(await client.get(f"{base}/deliveries", headers=auth("admin")), 200)
        assert [item["id"] for item in listed["items"]] == [ping["id"]]

        await client.patch(base, json={"is_active": False}, headers=auth("admin"))
        assert "inactive" in problem_detail(
            await client.post(f"{base}/test", headers=auth("admin")), 409
        )

    async def test_deliveries_page_newest_first(
        self, client: httpx.AsyncClient, auth: Auth, sessions: Sessions, world: Any
    ) -> None:
        """Pages follow next_cursor, newest first, each delivery once; a forged cursor is 400."""
        created = await create(client, auth)
        start = datetime(2025, 3, 1, tzinfo=UTC)
        made = [
            await add_delivery(
                sessions, created, world, created_at=start + timedelta(minutes=n // 2)
            )
            for n in range(5)
        ]
        base = f"/admin/webhooks/{created['id']}/deliveries"
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = body(await client.get(base, params=params, headers=auth("admin")), 200)
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        expected = sorted(made, key=lambda d: (d.created_at, d.id), reverse=True)
        assert seen == [str(d.id) for d in expected]
        problem_detail(
            await client.get(base, params={"cursor": "bogus"}, headers=auth("admin")),
            400,
        )

    async def test_failed_delivery_is_redelivered_once(
        self, client: httpx.AsyncClient, auth: Auth, sessions: Sessions, world: Any
    ) -> None:
        """redeliver resets a failed delivery to pending with a fresh count and keeps its log;
        a pending one is 409; another subscription's delivery is 404."""
        created = await create(client, auth)
        other = await create(client, auth)
        failed = await add_delivery(
            sessions,
            created,
            world,
            status="failed",
            attempts=8,
            last_error="gave up after 8 attempts: the receiver answered HTTP 500",
            response_status=500,
            attempt_log=[{"at": "2025-01-01T00:00:00+00:00", "status": 500, "duration_ms": 3}],
        )
        url = f"/admin/webhooks/{created['id']}/deliveries/{failed.id}/redeliver"

        reset = body(await client.post(url, headers=auth("admin")), 200)

        assert (reset["status"], reset["attempts"]) == ("pending", 0)
        assert reset["next_attempt_at"] is not None
        assert reset["attempt_log"] == failed.attempt_log
        assert "this one is pending" in problem_detail(
            await client.post(url, headers=auth("admin")), 409
        )
        wrong = f"/admin/webhooks/{other['id']}/deliveries/{failed.id}/redeliver"
        problem_detail(await client.post(wrong, headers=auth("admin")), 404)
