"""New mail from an agent: the ticket it opens, rights, validation, idempotency, quota. Real
PostgreSQL, through the HTTP API.

`world` (conftest) is this module's own; its tenant A numbers tickets from
`FIRST_NUMBER` here, past the numbers the world's seeded tickets took.
What the router does with the request is in tests/test_compose_round_trip.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from postdesk_contracts.addressing import outbound_message_row_id
from postdesk_contracts.envelope import derived_event_id
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions, ThreadTokens
from postdesk_schema import (
    AssignmentRole,
    AuditLog,
    EmailAccount,
    EmailAssignment,
    OutboundMessage,
    OutboxEvent,
    SlaTimer,
    Tenant,
    Ticket,
    TicketHistory,
)
from postdesk_testing.problems import assert_problem
from sqlalchemy import update
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
FIRST_NUMBER = 1000


@pytest_asyncio.fixture(scope="module", loop_scope="session", autouse=True)
async def numbered(world: Any, sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Tenant)
            .where(col(Tenant.id) == world.tenant_a)
            .values(next_ticket_number=FIRST_NUMBER)
        )


def mail(world: Any, account: str = "support", **fields: Any) -> dict[str, Any]:
    """A valid request body from `account`, to one customer; override any field."""
    body: dict[str, Any] = {
        "account_id": str(world.accounts[account].id),
        "to": [{"name": "Carol Customer", "email": "Carol@Client.test"}],
        "subject": f"Your order {uuid.uuid4().hex[:8]}",
        "text": "Your order has shipped.",
    }
    return body | fields


async def compose(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return await client.post("/tickets", headers=headers | extra, json=body)


async def next_number(sessions: Sessions, tenant_id: uuid.UUID) -> int:
    async with sessions() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant.next_ticket_number


async def events_about(sessions: Sessions, needle: str) -> dict[str, list[dict[str, Any]]]:
    """The gateway's outbox envelopes whose body mentions `needle`, by routing key."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                col(OutboxEvent.service) == "gateway", col(OutboxEvent.body).contains(needle)
            )
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for row in rows.all():
            found.setdefault(row.routing_key, []).append(json.loads(row.body))
        return found


async def tickets_titled(sessions: Sessions, subject: str) -> list[Ticket]:
    async with sessions() as session:
        rows = await session.scalars(select(Ticket).where(col(Ticket.subject) == subject))
        return list(rows.all())


@asynccontextmanager
async def tenant_settings(
    sessions: Sessions, tenant_id: uuid.UUID, outbound: dict[str, Any]
) -> AsyncIterator[None]:
    async with sessions() as session, session.begin():
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        before = dict(tenant.settings or {})
        tenant.settings = before | {"outbound": outbound}
    try:
        yield
    finally:
        async with sessions() as session, session.begin():
            tenant = await session.get(Tenant, tenant_id)
            assert tenant is not None
            tenant.settings = before


class TestComposedTicket:
    async def test_the_ticket_is_there_at_once_pending_and_the_authors(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        body = mail(world, cc=[{"email": "dan@client.test"}], bcc=[{"email": "log@acme.test"}])
        before = datetime.now(UTC)
        response = await compose(client, auth("primary"), body)
        assert response.status_code == 201, response.text
        answer = response.json()
        ticket_id, outbound_id = uuid.UUID(answer["ticket_id"]), answer["outbound_id"]
        assert answer["undo_url"] == f"/outbound/{outbound_id}/cancel"
        assert datetime.fromisoformat(answer["send_at"]) >= before + timedelta(seconds=10)
        primary, support = world.users["primary"], world.accounts["support"]
        async with sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
            history = (
                await session.scalars(
                    select(TicketHistory)
                    .where(col(TicketHistory.ticket_id) == ticket_id)
                    .order_by(col(TicketHistory.kind))
                )
            ).all()
            [audit] = (
                await session.scalars(
                    select(AuditLog).where(
                        col(AuditLog.action) == "ticket.composed",
                        col(AuditLog.object_id) == str(ticket_id),
                    )
                )
            ).all()
            clocks = (
                await session.scalars(select(SlaTimer).where(col(SlaTimer.ticket_id) == ticket_id))
            ).all()
        assert ticket is not None
        assert ticket.number == answer["number"]
        assert (ticket.tenant_id, ticket.account_id) == (world.tenant_a, support.id)
        assert ticket.department_id == support.department_id
        assert ticket.subject == body["subject"]
        assert (ticket.customer_email, ticket.customer_name) == (
            "carol@client.test",
            "Carol Customer",
        )
        assert (ticket.status, ticket.priority) == ("pending", "normal")
        assert (ticket.assignee_id, ticket.assignment_rule) == (primary.id, "composed")
        assert ticket.message_count == 0  # the router counts the mail when it stores it
        assert ticket.first_responded_at is not None
        assert ticket.response_minutes is None
        assert clocks == []
        assert [(h.kind, h.rule, h.actor_user_id) for h in history] == [
            ("assigned", "composed", primary.id),
            ("created", "composed", primary.id),
        ]
        assert audit.actor_user_id == primary.id
        assert audit.detail["outbound_id"] == outbound_id

    async def test_the_outbox_holds_created_assigned_and_the_mail(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        body = mail(
            world,
            to=[{"name": "Carol", "email": "carol@client.test"}, {"email": "erin@client.test"}],
            cc=[{"name": "Dan", "email": "Dan@Client.test"}],
            bcc=[{"email": "log@acme.test"}],
            html="<p>Your order has shipped.</p>",
        )
        response = await compose(client, auth("backup"), body)
        assert response.status_code == 201, response.text
        answer = response.json()
        outbound_id, ticket_id = uuid.UUID(answer["outbound_id"]), answer["ticket_id"]
        events = await events_about(sessions, ticket_id)
        [created], [assigned], [requested] = (
            events["ticket.created"],
            events["ticket.assigned"],
            events["outbound.requested"],
        )
        backup, support = world.users["backup"], world.accounts["support"]
        for envelope, name in (
            (created, "ticket.created"),
            (assigned, "ticket.assigned"),
            (requested, "outbound.requested"),
        ):
            assert envelope["id"] == str(derived_event_id(outbound_id, name))
            assert envelope["tenant_id"] == str(world.tenant_a)
        assert created["payload"] == {
            "ticket_id": ticket_id,
            "number": answer["number"],
            "account_id": str(support.id),
            "department_id": None,
            "subject": body["subject"],
            "customer_email": "carol@client.test",
            "first_message_id": str(outbound_message_row_id(outbound_id)),
            "priority": "normal",
            "linked_ticket_id": None,
            "imported": False,
        }
        assert assigned["payload"] == {
            "ticket_id": ticket_id,
            "account_id": str(support.id),
            "assignee_id": str(backup.id),
            "previous_assignee_id": None,
            "rule": "composed",
            "reason": "the agent who wrote the first mail",
            "assigned_by": str(backup.id),
            "imported": False,
        }
        payload = requested["payload"]
        assert payload["kind"] == "compose"
        assert payload["outbound_id"] == str(outbound_id)
        assert payload["ticket_id"] == ticket_id
        assert payload["account_id"] == str(support.id)
        assert payload["requested_by"] == str(backup.id)
        assert payload["to"] == [
            {"name": "Carol", "email": "carol@client.test"},
            {"name": "", "email": "erin@client.test"},
        ]
        assert payload["cc"] == [{"name": "Dan", "email": "dan@client.test"}]
        assert payload["bcc"] == [{"name": "", "email": "log@acme.test"}]
        assert payload["subject"] == body["subject"]
        assert (payload["text"], payload["html"]) == (body["text"], body["html"])
        assert (payload["in_reply_to"], payload["references"]) == (None, [])
        assert payload["send_at"] is None
        tokens = ThreadTokens.from_keyring(settings.keyring())
        assert payload["message_id"].endswith("@acme.test")
        assert tokens.ticket_of_message_id(payload["message_id"]) == uuid.UUID(ticket_id)
        [reply_to] = payload["reply_to"]
        assert reply_to["email"] == tokens.reply_address(uuid.UUID(ticket_id), support.address)

    async def test_reply_to_follows_the_tenant_policy(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        async with tenant_settings(sessions, world.tenant_a, {"reply_to": "account"}):
            response = await compose(client, auth("primary"), mail(world))
        assert response.status_code == 201, response.text
        [requested] = (await events_about(sessions, response.json()["ticket_id"]))[
            "outbound.requested"
        ]
        [reply_to] = requested["payload"]["reply_to"]
        assert reply_to["email"] == world.accounts["support"].address

    async def test_a_scheduled_mail_names_its_time(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        send_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
        response = await compose(client, auth("primary"), mail(world, send_at=send_at.isoformat()))
        assert response.status_code == 201, response.text
        assert datetime.fromisoformat(response.json()["send_at"]) == send_at
        [requested] = (await events_about(sessions, response.json()["ticket_id"]))[
            "outbound.requested"
        ]
        assert datetime.fromisoformat(requested["payload"]["send_at"]) == send_at

    async def test_tickets_are_numbered_in_the_tenants_one_sequence(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        first = await compose(client, auth("primary"), mail(world))
        second = await compose(client, auth("admin"), mail(world, account="sales"))
        assert first.status_code == second.status_code == 201, second.text
        assert second.json()["number"] == first.json()["number"] + 1
        assert await next_number(sessions, world.tenant_a) == second.json()["number"] + 1
        assert first.json()["number"] >= FIRST_NUMBER

    async def test_the_new_ticket_is_in_the_authors_inbox(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        response = await compose(client, auth("primary"), mail(world))
        assert response.status_code == 201, response.text
        listed = await client.get(
            "/tickets",
            params={"assigned_to_me": "true", "status": "pending"},
            headers=auth("primary"),
        )
        assert response.json()["ticket_id"] in [t["id"] for t in listed.json()["items"]]
        detail = await client.get(
            f"/tickets/{response.json()['ticket_id']}", headers=auth("primary")
        )
        assert detail.status_code == 200, detail.text
        assert detail.json()["assignment_rule"] == "composed"


class TestRights:
    @pytest.mark.parametrize(
        ("role", "account"),
        [
            ("primary", "support"),  # primary with can_send
            ("backup", "support"),  # backup with can_send
            ("admin", "sales"),  # a tenant admin, no assignment
        ],
    )
    async def test_those_who_may_send_may_write(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, role: str, account: str
    ) -> None:
        response = await compose(client, auth(role), mail(world, account=account))
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        ("role", "account", "status"),
        [
            ("viewer", "support", 403),  # sees the mailbox, may not send
            ("backup", "sales", 404),  # an inactive assignment: the mailbox is not visible
            ("unassigned", "support", 404),
            ("admin_b", "support", 404),  # another tenant's mailbox
            ("admin", "b_support", 404),
        ],
    )
    async def test_others_are_refused_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        role: str,
        account: str,
        status: int,
    ) -> None:
        tenant = world.accounts[account].tenant_id
        number = await next_number(sessions, tenant)
        body = mail(world, account=account)
        assert_problem(await compose(client, auth(role), body), status)
        assert await tickets_titled(sessions, body["subject"]) == []
        assert await events_about(sessions, body["subject"]) == {}
        assert await next_number(sessions, tenant) == number

    async def test_an_unknown_mailbox_is_404(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        body = mail(world, account_id=str(uuid.uuid4()))
        assert_problem(await compose(client, auth("admin"), body), 404)

    async def test_a_deactivated_mailbox_sends_nothing(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        closed = EmailAccount(
            tenant_id=world.tenant_a,
            address=f"closed-{world.suffix}@acme.test",
            is_active=False,
        )
        async with sessions() as session, session.begin():
            session.add(closed)
            await session.flush()
            session.add(
                EmailAssignment(
                    tenant_id=world.tenant_a,
                    account_id=closed.id,
                    user_id=world.users["primary"].id,
                    role=AssignmentRole.PRIMARY,
                    can_send=True,
                )
            )
        body = mail(world, account_id=str(closed.id))
        detail = assert_problem(await compose(client, auth("primary"), body), 403)["detail"]
        assert "deactivated" in detail
        assert await tickets_titled(sessions, body["subject"]) == []


class TestValidation:
    @pytest.mark.parametrize(
        "fields",
        [
            {"to": []},
            {"to": [{"email": "not an address"}]},
            {"to": [{"email": "carol@client.test, eve@client.test"}]},
            {"to": [{"email": "carol@client.test\r\nBcc: victim@x.test"}]},
            {"to": [{"name": "Carol\nX-Injected: yes", "email": "carol@client.test"}]},
            {"cc": [{"email": "zoë@client.test"}]},
            {"subject": "Hello\r\nBcc: victim@x.test"},
            {"subject": "Hello\u2028there"},
            {"subject": "   "},
            {"subject": "x" * 501},
            {"text": ""},
            {"account_id": "not-a-uuid"},
            {"send_at": "2020-01-01T00:00:00+00:00"},
            {"send_at": "2999-01-01T00:00:00"},  # no timezone
        ],
    )
    async def test_bad_values_are_a_400_and_write_nothing(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        fields: dict[str, Any],
    ) -> None:
        number = await next_number(sessions, world.tenant_a)
        marker = f"marker-{uuid.uuid4().hex}"
        body = mail(world, text=marker) | fields
        assert_problem(await compose(client, auth("primary"), body), 400)
        assert await events_about(sessions, marker) == {}
        assert await next_number(sessions, world.tenant_a) == number

    async def test_a_request_without_a_recipient_field_is_a_400(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        body = mail(world)
        del body["to"]
        assert_problem(await compose(client, auth("primary"), body), 400)

    async def test_a_malformed_key_is_a_400(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        response = await compose(client, auth("primary"), mail(world), key="x" * 300)
        assert "Idempotency-Key" in assert_problem(response, 400)["detail"]


class TestIdempotency:
    async def test_a_retried_request_opens_one_ticket(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        key, body = f"compose-{uuid.uuid4()}", mail(world)
        first = await compose(client, auth("primary"), body, key)
        number = await next_number(sessions, world.tenant_a)
        again = await compose(client, auth("primary"), body, key)
        assert first.status_code == again.status_code == 201, again.text
        assert first.json() == again.json()
        assert len(await tickets_titled(sessions, body["subject"])) == 1
        events = await events_about(sessions, first.json()["ticket_id"])
        assert {k: len(v) for k, v in events.items()} == {
            "ticket.created": 1,
            "ticket.assigned": 1,
            "outbound.requested": 1,
        }
        assert await next_number(sessions, world.tenant_a) == number

    async def test_concurrent_requests_with_one_key_open_one_ticket(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        key, body = f"race-{uuid.uuid4()}", mail(world)
        before = await next_number(sessions, world.tenant_a)
        responses = await asyncio.gather(
            *(compose(client, auth("primary"), body, key) for _ in range(4))
        )
        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        assert len({r.text for r in responses}) == 1
        [ticket] = await tickets_titled(sessions, body["subject"])
        assert ticket.number == before
        assert await next_number(sessions, world.tenant_a) == before + 1

    async def test_a_key_reused_for_another_request_is_a_422(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        key = f"reuse-{uuid.uuid4()}"
        first = await compose(client, auth("primary"), mail(world), key)
        assert first.status_code == 201, first.text
        other = mail(world)
        assert_problem(await compose(client, auth("primary"), other, key), 422)
        assert await tickets_titled(sessions, other["subject"]) == []
        reply = await client.post(
            f"/tickets/{first.json()['ticket_id']}/replies",
            headers=auth("primary") | {"Idempotency-Key": key},
            json={"text": "A reply under the composition's key"},
        )
        assert_problem(reply, 422)

    async def test_a_key_is_the_users_own(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        key = f"shared-{uuid.uuid4()}"
        mine = await compose(client, auth("primary"), mail(world), key)
        theirs = await compose(client, auth("backup"), mail(world), key)
        assert mine.status_code == theirs.status_code == 201, theirs.text
        assert mine.json()["ticket_id"] != theirs.json()["ticket_id"]


class TestQuota:
    async def test_over_the_users_daily_quota_is_a_429_and_opens_nothing(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        backup = world.users["backup"].id
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            session.add(
                OutboundMessage(
                    id=uuid.uuid4(),
                    tenant_id=world.tenant_a,
                    account_id=world.accounts["support"].id,
                    kind="compose",
                    status="sent",
                    requested_by=backup,
                    sent_at=now - timedelta(hours=1),
                    created_at=now - timedelta(hours=1),
                    updated_at=now - timedelta(hours=1),
                )
            )
        number = await next_number(sessions, world.tenant_a)
        body = mail(world)
        quota = {"per_user_per_day": 1, "per_account_per_day": 0, "per_tenant_per_minute": 0}
        async with tenant_settings(sessions, world.tenant_a, {"quota": quota}):
            refused = await compose(client, auth("backup"), body, f"q-{uuid.uuid4()}")
            others = await compose(client, auth("primary"), mail(world))
        problem = assert_problem(refused, 429)
        assert "per_user_per_day" in problem["detail"]
        assert 22 * 3600 < int(refused.headers["Retry-After"]) <= 23 * 3600 + 1
        assert await tickets_titled(sessions, body["subject"]) == []
        assert others.status_code == 201, others.text
        assert others.json()["number"] == number
