"""The gateway's HTTP API against the machine's PostgreSQL and RabbitMQ.

`world` (conftest) seeds two tenants; see `seed_world` for who holds which
mailbox. `auth(role)` is that user's Authorization header, from a real login.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from postdesk_gateway.auth import TokenService
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, OutboxEvent
from postdesk_testing.problems import assert_problem
from sqlmodel import col, select

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
JWT_SECRET = "test-secret-" + "x" * 32
Auth = Callable[[str], dict[str, str]]


async def ticket_ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> set[str]:
    response = await client.get("/tickets", headers=headers, params=params | {"limit": 100})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def ids(values: set[uuid.UUID]) -> set[str]:
    return {str(v) for v in values}


class TestLogin:
    async def test_login_returns_a_bearer_token(
        self, client: httpx.AsyncClient, world: Any
    ) -> None:
        """The right password of an active user gives a bearer token valid for 15 minutes."""
        response = await client.post(
            "/auth/login", json={"email": world.email("primary").upper(), "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 15 * 60
        me = await client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.json()["email"] == world.email("primary")

    @pytest.mark.parametrize(
        ("who", "password"),
        [("primary", "wrong password"), ("nobody", PASSWORD), ("inactive", PASSWORD)],
    )
    async def test_failed_login_is_one_answer(
        self, client: httpx.AsyncClient, world: Any, who: str, password: str
    ) -> None:
        """Wrong password, unknown user and inactive user get the identical 401."""
        email = f"nobody-{world.suffix}@example.test" if who == "nobody" else world.email(who)
        response = await client.post("/auth/login", json={"email": email, "password": password})
        body = assert_problem(response, 401)
        assert body["detail"] == "invalid email or password"

    async def test_login_validation_error_never_echoes_the_password(
        self, client: httpx.AsyncClient
    ) -> None:
        """A malformed login body is a 400 problem that does not contain the submitted values."""
        response = await client.post(
            "/auth/login", json={"email": "x", "password": "hunter2-secret"}
        )
        body = assert_problem(response, 400)
        assert "hunter2-secret" not in response.text
        assert body["errors"]


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ],
    )
    async def test_protected_routes_need_a_valid_token(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        """Missing, empty, malformed or non-bearer credentials are a 401 problem with a challenge."""
        for path in ("/me", "/tickets", "/notifications", f"/tickets/{uuid.uuid4()}"):
            response = await client.get(path, headers=headers)
            assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_expired_token_is_refused(self, client: httpx.AsyncClient, world: Any) -> None:
        """A correctly signed token past its expiry is a 401."""
        user = world.users["primary"]
        expired = TokenService(JWT_SECRET, lifetime=timedelta(seconds=-1)).issue(
            user.id, user.tenant_id
        )
        assert_problem(await client.get("/me", headers={"Authorization": f"Bearer {expired}"}), 401)

    async def test_token_of_an_inactive_user_is_refused(
        self, client: httpx.AsyncClient, world: Any
    ) -> None:
        """A valid token stops working once its user is inactive (the user is loaded per request)."""
        user = world.users["inactive"]
        token = TokenService(JWT_SECRET, lifetime=timedelta(minutes=5)).issue(
            user.id, user.tenant_id
        )
        assert_problem(await client.get("/me", headers={"Authorization": f"Bearer {token}"}), 401)

    async def test_token_naming_another_tenant_is_refused(
        self, client: httpx.AsyncClient, world: Any
    ) -> None:
        """A token whose tenant claim does not match the user's tenant is a 401."""
        user = world.users["primary"]
        token = TokenService(JWT_SECRET, lifetime=timedelta(minutes=5)).issue(
            user.id, world.tenant_b
        )
        assert_problem(await client.get("/me", headers={"Authorization": f"Bearer {token}"}), 401)


class TestMe:
    async def test_me_lists_assigned_mailboxes_with_rights(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """A viewer sees their one active assignment, with its role and without can_send."""
        response = await client.get("/me", headers=auth("viewer"))
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(world.users["viewer"].id)
        assert body["tenant_id"] == str(world.tenant_a)
        assert body["role"] == "member"
        [account] = body["accounts"]
        assert account["account_id"] == str(world.accounts["support"].id)
        assert (account["role"], account["can_send"]) == ("viewer", False)

    async def test_inactive_assignments_are_not_listed(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """The backup's inactive assignment on sales does not show."""
        body = (await client.get("/me", headers=auth("backup"))).json()
        assert [a["account_id"] for a in body["accounts"]] == [str(world.accounts["support"].id)]

    async def test_admin_sees_every_mailbox_of_the_tenant(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """A tenant admin sees all of the tenant's mailboxes, with every right, and no other tenant's."""
        body = (await client.get("/me", headers=auth("admin"))).json()
        expected = {str(world.accounts[n].id) for n in ("support", "sales", "bulk")}
        assert {a["account_id"] for a in body["accounts"]} == expected
        assert all(a["can_send"] and a["role"] is None for a in body["accounts"])


class TestTicketVisibility:
    @pytest.mark.parametrize(
        ("role", "accounts"),
        [
            ("admin", ("support", "sales", "bulk")),
            ("primary", ("support", "bulk")),
            ("backup", ("support",)),
            ("viewer", ("support",)),
            ("unassigned", ()),
            ("admin_b", ("b_support",)),
        ],
    )
    async def test_list_shows_exactly_the_visible_tickets(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        role: str,
        accounts: tuple[str, ...],
    ) -> None:
        """Admins see their whole tenant, staff their actively assigned mailboxes, nobody another tenant."""
        assert await ticket_ids(client, auth(role)) == ids(world.tickets_of(*accounts))

    async def test_filters(self, client: httpx.AsyncClient, world: Any, auth: Auth) -> None:
        """status, account_id and assigned_to_me narrow the list, never widen it."""
        headers = auth("primary")
        support = world.accounts["support"].id
        assert await ticket_ids(client, headers, account_id=str(support)) == ids(
            world.tickets_of("support")
        )
        assert await ticket_ids(client, headers, assigned_to_me="true") == {
            str(world.tickets["support_1"].id)
        }
        assert await ticket_ids(client, headers, status="closed") == set()
        assert (
            await ticket_ids(client, headers, account_id=str(world.accounts["sales"].id)) == set()
        )
        assert await ticket_ids(client, auth("admin_b"), account_id=str(support)) == set()

    @pytest.mark.parametrize(
        "params", [{"limit": 0}, {"limit": 101}, {"status": "bogus"}, {"cursor": "garbage"}]
    )
    async def test_bad_query_is_a_400_problem(
        self, client: httpx.AsyncClient, auth: Auth, params: dict[str, Any]
    ) -> None:
        """Out-of-range limits, unknown statuses and foreign cursors are rejected."""
        assert_problem(await client.get("/tickets", headers=auth("admin"), params=params), 400)

    async def test_keyset_pages_return_every_ticket_once(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """Following next_cursor with a small page yields each ticket exactly once, newest first."""
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 2, "account_id": str(world.accounts["bulk"].id)}
            if cursor:
                params["cursor"] = cursor
            response = await client.get("/tickets", headers=auth("primary"), params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 2
            seen.extend(page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [item["id"] for item in seen].count(seen[0]["id"]) == 1
        assert len(seen) == len({item["id"] for item in seen}) == len(world.bulk_ticket_ids)
        assert {item["id"] for item in seen} == ids(set(world.bulk_ticket_ids))
        assert pages == 4
        keys = [(item["last_message_at"], item["id"]) for item in seen]
        assert keys == sorted(keys, reverse=True)


class TestTicketDetail:
    async def test_detail_has_messages_oldest_first(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """A viewer reads the ticket: messages oldest first, with addresses and attachment metadata."""
        ticket = world.tickets["support_1"]
        response = await client.get(f"/tickets/{ticket.id}", headers=auth("viewer"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["number"] == ticket.number
        messages = body["messages"]
        assert [m["id"] for m in messages] == [
            str(world.messages[n].id) for n in ("first", "reply", "outbound")
        ]
        first = messages[0]
        assert first["from"] == {"name": ticket.customer_name, "email": ticket.customer_email}
        assert first["to"] == [{"name": "", "email": "support@example.test"}]
        assert first["match_rule"] == "new-ticket"
        assert [a["filename"] for a in first["attachments"]] == ["invoice.pdf"]
        assert "blob_ref" not in first["attachments"][0]
        assert [m["direction"] for m in messages] == ["inbound", "inbound", "outbound"]

    @pytest.mark.parametrize(
        ("role", "ticket"),
        [
            ("primary", "b_1"),
            ("admin", "b_1"),
            ("admin_b", "support_1"),
            ("primary", "sales_1"),
            ("backup", "sales_1"),
            ("unassigned", "support_1"),
        ],
    )
    async def test_invisible_ticket_is_404(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, role: str, ticket: str
    ) -> None:
        """Another tenant's ticket and an unassigned mailbox's ticket look exactly like a missing one."""
        ticket_id = world.tickets[ticket].id
        response = await client.get(f"/tickets/{ticket_id}", headers=auth(role))
        missing = await client.get(f"/tickets/{uuid.uuid4()}", headers=auth(role))
        assert assert_problem(response, 404) == assert_problem(missing, 404)
        assert world.tickets[ticket].subject not in response.text

    async def test_every_read_is_audited(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Each read appends a ticket.read audit row with the actor and the client's ip."""
        ticket = world.tickets["support_2"]
        actor = world.users["backup"]

        async def reads() -> list[AuditLog]:
            async with sessions() as session:
                rows = await session.scalars(
                    select(AuditLog).where(
                        col(AuditLog.object_id) == str(ticket.id),
                        col(AuditLog.actor_user_id) == actor.id,
                        col(AuditLog.action) == "ticket.read",
                    )
                )
                return list(rows.all())

        before = len(await reads())
        for _ in range(2):
            assert (
                await client.get(f"/tickets/{ticket.id}", headers=auth("backup"))
            ).status_code == 200
        rows = await reads()
        assert len(rows) == before + 2
        assert {(r.tenant_id, r.ip, r.object_type) for r in rows} == {
            (world.tenant_a, "127.0.0.1", "ticket")
        }


class TestReplies:
    async def test_reply_goes_through_the_outbox(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """A user with can_send gets 202; outbound.requested is committed, audited and relayed."""
        ticket = world.tickets["support_1"]
        response = await client.post(
            f"/tickets/{ticket.id}/replies", headers=auth("backup"), json={"text": "Thanks!"}
        )
        assert response.status_code == 202, response.text
        outbound_id = response.json()["outbound_id"]

        async def outbox_rows() -> list[OutboxEvent]:
            async with sessions() as session:
                rows = await session.scalars(
                    select(OutboxEvent).where(
                        col(OutboxEvent.service) == "gateway",
                        col(OutboxEvent.body).contains(outbound_id),
                    )
                )
                return list(rows.all())

        [row] = await outbox_rows()
        assert row.routing_key == "outbound.requested"
        envelope = json.loads(row.body)
        assert envelope["tenant_id"] == str(world.tenant_a)
        payload = envelope["payload"]
        assert payload["to"] == [{"name": ticket.customer_name, "email": ticket.customer_email}]
        assert payload["subject"] == "Re: Question 1"
        assert payload["in_reply_to"] == world.messages["reply"].message_id_header
        assert payload["references"] == [  # the ticket's thread, ours included, oldest first
            world.messages["first"].message_id_header,
            world.messages["reply"].message_id_header,
            world.messages["outbound"].message_id_header,
        ]
        assert payload["requested_by"] == str(world.users["backup"].id)
        assert payload["text"] == "Thanks!"
        for _ in range(50):  # the relay was woken after the commit and publishes with confirms
            [row] = await outbox_rows()
            if row.published_at is not None:
                break
            await asyncio.sleep(0.1)
        assert row.published_at is not None
        async with sessions() as session:
            audit = await session.scalars(
                select(AuditLog).where(col(AuditLog.action) == "ticket.reply_requested")
            )
            assert outbound_id in [a.detail.get("outbound_id") for a in audit.all()]

    async def test_subject_already_a_reply_is_kept(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """A tenant admin may reply without an assignment; an RE: subject gets no second prefix."""
        ticket = world.tickets["support_2"]
        response = await client.post(
            f"/tickets/{ticket.id}/replies", headers=auth("admin"), json={"text": "On it"}
        )
        assert response.status_code == 202, response.text
        async with sessions() as session:
            row = (
                await session.scalars(
                    select(OutboxEvent).where(
                        col(OutboxEvent.body).contains(response.json()["outbound_id"])
                    )
                )
            ).one()
        assert json.loads(row.body)["payload"]["subject"] == "RE: Invoice"

    async def test_viewer_may_not_reply(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """A viewer (no can_send) gets 403 and nothing is queued."""
        ticket = world.tickets["support_1"]
        async with sessions() as session:
            before = len((await session.scalars(select(OutboxEvent))).all())
        response = await client.post(
            f"/tickets/{ticket.id}/replies", headers=auth("viewer"), json={"text": "hi"}
        )
        assert_problem(response, 403)
        async with sessions() as session:
            assert len((await session.scalars(select(OutboxEvent))).all()) == before

    @pytest.mark.parametrize(("role", "ticket"), [("unassigned", "support_1"), ("primary", "b_1")])
    async def test_reply_to_invisible_ticket_is_404(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, role: str, ticket: str
    ) -> None:
        """Replying to a ticket you cannot see is a 404, not a 403."""
        response = await client.post(
            f"/tickets/{world.tickets[ticket].id}/replies", headers=auth(role), json={"text": "hi"}
        )
        assert_problem(response, 404)

    async def test_empty_reply_is_rejected(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """A reply needs text."""
        response = await client.post(
            f"/tickets/{world.tickets['support_1'].id}/replies",
            headers=auth("primary"),
            json={"text": ""},
        )
        assert_problem(response, 400)


class TestNotificationsAndService:
    async def test_notifications_are_the_users_own(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """The primary sees their notification; the viewer sees none."""
        mine = (await client.get("/notifications", headers=auth("primary"))).json()["items"]
        assert [n["ticket_id"] for n in mine] == [str(world.tickets["support_1"].id)]
        assert mine[0]["kind"] == "ticket.assigned"
        assert (await client.get("/notifications", headers=auth("viewer"))).json()["items"] == []

    async def test_health_and_readiness(self, client: httpx.AsyncClient) -> None:
        """/healthz answers, /readyz reports the database and the broker ready, both without a token."""
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"broker": "ok", "database": "ok"}

    async def test_openapi_schema_is_served(self, client: httpx.AsyncClient) -> None:
        """/schema serves the OpenAPI document, listing the API and the bearer scheme, without a token."""
        assert (await client.get("/schema")).status_code == 200
        response = await client.get("/schema/openapi.json")
        assert response.status_code == 200
        schema = response.json()
        assert {"/auth/login", "/me", "/tickets", "/tickets/{ticket_id}", "/notifications"} <= set(
            schema["paths"]
        )
        assert "/tickets/{ticket_id}/replies" in schema["paths"]
        assert "/tickets/{ticket_id}/history" in schema["paths"]
        assert {"get", "patch"} <= set(schema["paths"]["/tickets/{ticket_id}"])
        assert "BearerToken" in schema["components"]["securitySchemes"]

    async def test_unknown_route_is_a_problem(self, client: httpx.AsyncClient, auth: Auth) -> None:
        """Even a 404 for an unknown path has the problem shape."""
        assert_problem(await client.get("/nope", headers=auth("admin")), 404)
