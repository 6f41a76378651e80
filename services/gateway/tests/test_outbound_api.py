"""Replies with idempotency keys, schedules, quotas and threading; undo. Real PostgreSQL.

No outbound service runs here: where a test needs the row the outbound
service records for a request (`outbound_messages`), it writes it itself, as
that service would (`record_row`). `world` (conftest) is this module's own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from postdesk_contracts.api_ticket_live import TICKET_EVENTS_CHANNEL, TicketChangeNotice
from postdesk_contracts.envelope import derived_event_id
from postdesk_gateway.live import asyncpg_dsn
from postdesk_runtime import Sessions
from postdesk_schema import (
    AuditLog,
    Message,
    OutboundMessage,
    OutboxEvent,
    Tenant,
    Ticket,
    TicketHistory,
)
from postdesk_testing.problems import assert_problem
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
_numbers = itertools.count(5000)


async def new_ticket(sessions: Sessions, world: Any, **values: Any) -> Ticket:
    mailbox = world.accounts["support"]
    number = next(_numbers)
    ticket = Ticket(
        tenant_id=mailbox.tenant_id,
        number=number,
        account_id=mailbox.id,
        subject=f"Outbound {number}",
        customer_email=f"customer{number}@client.test",
        customer_name=f"Customer {number}",
        **values,
    )
    async with sessions() as session, session.begin():
        session.add(ticket)
    return ticket


async def add_message(
    sessions: Sessions, ticket: Ticket, message_id: str, at: datetime, **values: Any
) -> None:
    async with sessions() as session, session.begin():
        session.add(
            Message(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                account_id=ticket.account_id,
                message_id_header=message_id,
                created_at=at,
                **values,
            )
        )


async def reply(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    ticket: Ticket,
    key: str | None = None,
    **body: Any,
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return await client.post(
        f"/tickets/{ticket.id}/replies",
        headers=headers | extra,
        json={"text": "Thanks!"} | body,
    )


async def requested(sessions: Sessions, outbound_id: str) -> list[dict[str, Any]]:
    """The outbound.requested envelopes the gateway committed for `outbound_id`."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                col(OutboxEvent.service) == "gateway",
                col(OutboxEvent.routing_key) == "outbound.requested",
                col(OutboxEvent.body).contains(outbound_id),
            )
        )
        return [json.loads(row.body) for row in rows.all()]


async def reply_audits(sessions: Sessions, outbound_id: str) -> list[AuditLog]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog).where(col(AuditLog.action) == "ticket.reply_requested")
        )
        return [a for a in rows.all() if a.detail.get("outbound_id") == outbound_id]


async def record_row(
    sessions: Sessions,
    ticket: Ticket,
    requested_by: uuid.UUID | None,
    *,
    status: str = "scheduled",
    next_attempt_at: datetime | None = None,
    sent_at: datetime | None = None,
    outbound_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """The row the outbound service records for a request (or has moved on since)."""
    now = datetime.now(UTC)
    row = OutboundMessage(
        id=outbound_id or uuid.uuid4(),
        tenant_id=ticket.tenant_id,
        account_id=ticket.account_id,
        ticket_id=ticket.id,
        kind="reply",
        status=status,
        requested_by=requested_by,
        next_attempt_at=next_attempt_at,
        sent_at=sent_at,
        created_at=now,
        updated_at=now,
    )
    async with sessions() as session, session.begin():
        session.add(row)
    return row.id


async def row_status(sessions: Sessions, outbound_id: uuid.UUID) -> str:
    async with sessions() as session:
        row = await session.get(OutboundMessage, outbound_id)
    assert row is not None
    return row.status


@asynccontextmanager
async def tenant_settings(
    sessions: Sessions, tenant_id: uuid.UUID, outbound: dict[str, Any]
) -> AsyncIterator[None]:
    """The tenant's outbound settings set to `outbound` for the block, restored after."""
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


def iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class TestReplyRequest:
    async def test_reply_says_when_it_goes_and_how_to_undo_it(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Without send_at it goes after the undo window (10 s by default); no send_at in
        the request, so the outbound service applies the window itself."""
        ticket = await new_ticket(sessions, world)
        before = datetime.now(UTC)
        response = await reply(client, auth("primary"), ticket)
        after = datetime.now(UTC)
        assert response.status_code == 202, response.text
        body = response.json()
        goes = iso(body["send_at"])
        assert before + timedelta(seconds=10) <= goes <= after + timedelta(seconds=10)
        assert body["undo_url"] == f"/outbound/{body['outbound_id']}/cancel"
        [envelope] = await requested(sessions, body["outbound_id"])
        assert envelope["payload"]["send_at"] is None
        assert envelope["id"] == str(
            derived_event_id(uuid.UUID(body["outbound_id"]), "outbound.requested")
        )

    async def test_html_cc_bcc_and_a_scheduled_time_reach_the_request(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        send_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        response = await reply(
            client,
            auth("primary"),
            ticket,
            html="<p>Thanks!</p>",
            cc=[{"name": "Dan", "email": "Dan@Client.test"}],
            bcc=[{"email": "audit@acme.test"}],
            send_at=send_at.isoformat(),
        )
        assert response.status_code == 202, response.text
        assert iso(response.json()["send_at"]) == send_at
        [envelope] = await requested(sessions, response.json()["outbound_id"])
        payload = envelope["payload"]
        assert payload["html"] == "<p>Thanks!</p>"
        assert payload["cc"] == [{"name": "Dan", "email": "dan@client.test"}]
        assert payload["bcc"] == [{"name": "", "email": "audit@acme.test"}]
        assert iso(payload["send_at"]) == send_at

    async def test_a_send_time_inside_the_undo_window_goes_after_it(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """The outbound service never sends inside the undo window; the answer says so."""
        ticket = await new_ticket(sessions, world)
        before = datetime.now(UTC)
        soon = before + timedelta(seconds=3)
        response = await reply(client, auth("primary"), ticket, send_at=soon.isoformat())
        assert response.status_code == 202, response.text
        assert iso(response.json()["send_at"]) >= before + timedelta(seconds=10)
        [envelope] = await requested(sessions, response.json()["outbound_id"])
        assert iso(envelope["payload"]["send_at"]) == soon

    @pytest.mark.parametrize(
        "body",
        [
            {"send_at": "2020-01-01T00:00:00+00:00"},
            {"send_at": "in-the-future"},
            {"send_at": "2999-01-01T00:00:00"},  # no timezone
            {"cc": [{"email": "not an address"}]},
            {"cc": [{"email": "dan@client.test\r\nBcc: victim@x.test"}]},
            {"bcc": [{"name": "Eve\nX-Injected: yes", "email": "eve@client.test"}]},
            {"bcc": [{"email": "dan@client.test, eve@client.test"}]},
            {"cc": [{"email": "zoë@client.test"}]},
        ],
    )
    async def test_bad_values_are_a_400_and_queue_nothing(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        body: dict[str, Any],
    ) -> None:
        ticket = await new_ticket(sessions, world)
        assert_problem(await reply(client, auth("primary"), ticket, **body), 400)
        async with sessions() as session:
            rows = await session.scalars(
                select(OutboxEvent).where(col(OutboxEvent.body).contains(str(ticket.id)))
            )
            assert rows.all() == []

    async def test_send_at_more_than_30_days_ahead_is_refused(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        late = datetime.now(UTC) + timedelta(days=31)
        body = assert_problem(
            await reply(client, auth("primary"), ticket, send_at=late.isoformat()), 400
        )
        assert "30 days" in body["detail"]

    async def test_references_are_the_tickets_thread(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """In-Reply-To: the latest inbound message. References: the answered message's own
        older references, then every message on the ticket, oldest first; mail that never
        reached the customer (cancelled) is left out."""
        ticket = await new_ticket(sessions, world)
        s = uuid.uuid4().hex[:8]
        base = datetime(2025, 2, 1, tzinfo=UTC)
        await add_message(sessions, ticket, f"m1-{s}@client.test", base)
        await add_message(
            sessions,
            ticket,
            f"o1-{s}@acme.test",
            base + timedelta(hours=1),
            direction="outbound",
            delivery_status="sent",
        )
        await add_message(
            sessions,
            ticket,
            f"m2-{s}@client.test",
            base + timedelta(hours=2),
            references=[f"elsewhere-{s}@client.test", f"m1-{s}@client.test"],
        )
        await add_message(
            sessions,
            ticket,
            f"o2-{s}@acme.test",
            base + timedelta(hours=3),
            direction="outbound",
            delivery_status="cancelled",
        )
        await add_message(
            sessions,
            ticket,
            f"o3-{s}@acme.test",
            base + timedelta(hours=4),
            direction="outbound",
            delivery_status="requested",
        )
        response = await reply(client, auth("primary"), ticket)
        assert response.status_code == 202, response.text
        [envelope] = await requested(sessions, response.json()["outbound_id"])
        payload = envelope["payload"]
        assert payload["in_reply_to"] == f"m2-{s}@client.test"
        assert payload["references"] == [
            f"elsewhere-{s}@client.test",
            f"m1-{s}@client.test",
            f"o1-{s}@acme.test",
            f"m2-{s}@client.test",
            f"o3-{s}@acme.test",
        ]

    async def test_reply_to_follows_the_tenant_policy(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        async with tenant_settings(sessions, world.tenant_a, {"reply_to": "account"}):
            response = await reply(client, auth("primary"), ticket)
        assert response.status_code == 202, response.text
        [envelope] = await requested(sessions, response.json()["outbound_id"])
        [reply_to] = envelope["payload"]["reply_to"]
        assert reply_to["email"] == world.accounts["support"].address


class TestIdempotency:
    async def test_a_retried_request_is_the_same_request(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Same key, same body: the same answer, and one event and one audit row in all."""
        ticket = await new_ticket(sessions, world)
        key = f"retry-{uuid.uuid4()}"
        first = await reply(client, auth("primary"), ticket, key)
        again = await reply(client, auth("primary"), ticket, key)
        assert first.status_code == again.status_code == 202, again.text
        assert first.json() == again.json()
        outbound_id = first.json()["outbound_id"]
        assert len(await requested(sessions, outbound_id)) == 1
        assert len(await reply_audits(sessions, outbound_id)) == 1

    async def test_concurrent_requests_with_one_key_queue_one_mail(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        key = f"race-{uuid.uuid4()}"
        responses = await asyncio.gather(
            *(reply(client, auth("primary"), ticket, key) for _ in range(4))
        )
        assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
        assert len({r.json()["outbound_id"] for r in responses}) == 1
        outbound_id = responses[0].json()["outbound_id"]
        assert len(await requested(sessions, outbound_id)) == 1
        assert len(await reply_audits(sessions, outbound_id)) == 1

    async def test_a_key_is_the_users_own(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Two users sending with the same key send two mails."""
        ticket = await new_ticket(sessions, world)
        key = f"shared-{uuid.uuid4()}"
        mine = await reply(client, auth("primary"), ticket, key)
        theirs = await reply(client, auth("backup"), ticket, key)
        assert mine.json()["outbound_id"] != theirs.json()["outbound_id"]

    async def test_a_key_reused_for_another_request_is_a_422(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket, other = await new_ticket(sessions, world), await new_ticket(sessions, world)
        key = f"reuse-{uuid.uuid4()}"
        first = await reply(client, auth("primary"), ticket, key)
        assert first.status_code == 202, first.text
        assert_problem(await reply(client, auth("primary"), ticket, key, text="Other"), 422)
        assert_problem(await reply(client, auth("primary"), other, key), 422)
        assert len(await requested(sessions, first.json()["outbound_id"])) == 1

    async def test_without_a_key_every_request_is_new(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        first = await reply(client, auth("primary"), ticket)
        second = await reply(client, auth("primary"), ticket)
        assert first.json()["outbound_id"] != second.json()["outbound_id"]

    async def test_a_malformed_key_is_a_400(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        body = assert_problem(await reply(client, auth("primary"), ticket, "x" * 300), 400)
        assert "Idempotency-Key" in body["detail"]


class TestQuota:
    async def test_over_the_users_daily_quota_is_a_429_saying_which_and_when(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        backup = world.users["backup"].id
        now = datetime.now(UTC)
        oldest = now - timedelta(hours=3)
        for sent_at in (oldest, now - timedelta(hours=2), now - timedelta(minutes=5)):
            await record_row(sessions, ticket, backup, status="sent", sent_at=sent_at)
        # Sent more than a day ago, cancelled or still waiting: none of these count.
        await record_row(sessions, ticket, backup, status="sent", sent_at=now - timedelta(days=2))
        await record_row(sessions, ticket, backup, status="cancelled")
        quota = {"per_user_per_day": 2, "per_account_per_day": 0, "per_tenant_per_minute": 0}
        async with tenant_settings(sessions, world.tenant_a, {"quota": quota}):
            refused = await reply(client, auth("backup"), ticket, f"q-{uuid.uuid4()}")
            others = await reply(client, auth("primary"), ticket)
        body = assert_problem(refused, 429)
        assert "per_user_per_day" in body["detail"]
        assert "2 mails per 24 hours" in body["detail"]
        # Two fit in the window: a slot frees when the second most recent send leaves it.
        frees = now - timedelta(hours=2) + timedelta(hours=24)
        assert frees.isoformat(timespec="seconds")[:16] in body["detail"]
        retry_after = int(refused.headers["Retry-After"])
        assert 21 * 3600 < retry_after <= 22 * 3600 + 1
        assert others.status_code == 202, others.text
        async with sessions() as session:
            count = await session.scalars(
                select(OutboxEvent).where(col(OutboxEvent.body).contains(str(backup)))
            )
            assert [e for e in count.all() if str(ticket.id) in e.body] == []

    async def test_over_the_tenants_minute_quota_is_a_429(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        await record_row(
            sessions, ticket, None, status="sent", sent_at=datetime.now(UTC) - timedelta(seconds=5)
        )
        quota = {"per_tenant_per_minute": 1}
        async with tenant_settings(sessions, world.tenant_a, {"quota": quota}):
            refused = await reply(client, auth("admin"), ticket)
        body = assert_problem(refused, 429)
        assert "per_tenant_per_minute" in body["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60

    async def test_a_retry_of_an_accepted_request_is_not_refused_by_the_quota(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        key = f"q-{uuid.uuid4()}"
        first = await reply(client, auth("primary"), ticket, key)
        assert first.status_code == 202, first.text
        await record_row(
            sessions, ticket, world.users["primary"].id, status="sent", sent_at=datetime.now(UTC)
        )
        async with tenant_settings(sessions, world.tenant_a, {"quota": {"per_user_per_day": 1}}):
            again = await reply(client, auth("primary"), ticket, key)
            fresh = await reply(client, auth("primary"), ticket, f"q-{uuid.uuid4()}")
        assert again.status_code == 202, again.text
        assert again.json() == first.json()
        assert_problem(fresh, 429)


class TestUndo:
    @pytest.fixture
    def future(self) -> datetime:
        return datetime.now(UTC) + timedelta(minutes=5)

    async def test_undo_within_the_window_cancels_and_announces_it(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        future: datetime,
    ) -> None:
        ticket = await new_ticket(sessions, world)
        outbound_id = await record_row(
            sessions, ticket, world.users["primary"].id, next_attempt_at=future
        )
        response = await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("primary"))
        assert response.status_code == 200, response.text
        assert response.json() == {"outbound_id": str(outbound_id), "status": "cancelled"}
        assert await row_status(sessions, outbound_id) == "cancelled"
        async with sessions() as session:
            [event] = (
                await session.scalars(
                    select(OutboxEvent).where(
                        col(OutboxEvent.routing_key) == "outbound.cancelled",
                        col(OutboxEvent.body).contains(str(outbound_id)),
                    )
                )
            ).all()
            history = (
                await session.scalars(
                    select(TicketHistory).where(col(TicketHistory.ticket_id) == ticket.id)
                )
            ).all()
            audits = (
                await session.scalars(
                    select(AuditLog).where(
                        col(AuditLog.action) == "outbound.cancelled",
                        col(AuditLog.object_id) == str(outbound_id),
                    )
                )
            ).all()
        envelope = json.loads(event.body)
        assert event.service == "gateway"
        assert envelope["id"] == str(derived_event_id(outbound_id, "outbound.cancelled"))
        assert envelope["tenant_id"] == str(world.tenant_a)
        assert envelope["payload"] == {
            "outbound_id": str(outbound_id),
            "account_id": str(ticket.account_id),
            "ticket_id": str(ticket.id),
            "cancelled_by": str(world.users["primary"].id),
        }
        [entry] = history
        assert (entry.kind, entry.rule, entry.actor_user_id) == (
            "undo",
            "agent",
            world.users["primary"].id,
        )
        assert entry.event_id == uuid.UUID(envelope["id"])
        assert len(audits) == 1

        again = await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("primary"))
        assert again.status_code == 200, again.text
        async with sessions() as session:
            events = await session.scalars(
                select(OutboxEvent).where(
                    col(OutboxEvent.routing_key) == "outbound.cancelled",
                    col(OutboxEvent.body).contains(str(outbound_id)),
                )
            )
            assert len(events.all()) == 1

    @pytest.mark.parametrize("status", ["sending", "sent", "retrying", "failed", "dead"])
    async def test_too_late_is_a_409(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        future: datetime,
        status: str,
    ) -> None:
        ticket = await new_ticket(sessions, world)
        outbound_id = await record_row(
            sessions, ticket, world.users["primary"].id, status=status, next_attempt_at=future
        )
        response = await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("primary"))
        body = assert_problem(response, 409)
        assert status in body["detail"]
        assert "Retry-After" not in response.headers
        assert await row_status(sessions, outbound_id) == status

    async def test_undo_tells_the_tickets_live_streams(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        future: datetime,
        database_url: str,
    ) -> None:
        """Open ticket views learn on commit that the reply was undone (the ticket channel
        every gateway replica listens on)."""
        ticket = await new_ticket(sessions, world)
        outbound_id = await record_row(
            sessions, ticket, world.users["primary"].id, next_attempt_at=future
        )
        heard: asyncio.Queue[str] = asyncio.Queue()
        listener = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await listener.add_listener(
                TICKET_EVENTS_CHANNEL, lambda *args: heard.put_nowait(args[3])
            )
            response = await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("primary"))
            assert response.status_code == 200, response.text
            notice = TicketChangeNotice.model_validate_json(
                await asyncio.wait_for(heard.get(), timeout=5)
            )
        finally:
            await listener.close()
        assert (notice.tenant_id, notice.ticket_id, notice.change) == (
            world.tenant_a,
            ticket.id,
            "reply_undone",
        )

    async def test_a_scheduled_mail_whose_time_has_come_is_not_undone(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        outbound_id = await record_row(
            sessions,
            ticket,
            world.users["primary"].id,
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
        )
        response = await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("primary"))
        assert_problem(response, 409)
        assert await row_status(sessions, outbound_id) == "scheduled"

    async def test_another_tenants_mail_is_404(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        future: datetime,
    ) -> None:
        ticket = await new_ticket(sessions, world)
        outbound_id = await record_row(
            sessions, ticket, world.users["primary"].id, next_attempt_at=future
        )
        response = await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("admin_b"))
        assert_problem(response, 404)
        assert_problem(
            await client.post(f"/outbound/{uuid.uuid4()}/cancel", headers=auth("primary")), 404
        )
        assert await row_status(sessions, outbound_id) == "scheduled"

    async def test_only_the_sender_or_an_admin_may_undo(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        future: datetime,
    ) -> None:
        """A colleague who sees the ticket: 403; one who does not: 404; an admin may."""
        ticket = await new_ticket(sessions, world)
        outbound_id = await record_row(
            sessions, ticket, world.users["primary"].id, next_attempt_at=future
        )
        assert_problem(
            await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("backup")), 403
        )
        assert_problem(
            await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("unassigned")), 404
        )
        assert await row_status(sessions, outbound_id) == "scheduled"
        admin = await client.post(f"/outbound/{outbound_id}/cancel", headers=auth("admin"))
        assert admin.status_code == 200, admin.text
        assert await row_status(sessions, outbound_id) == "cancelled"

    async def test_undo_before_the_outbound_service_recorded_it_says_retry(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Requested but not recorded yet: a 409 with Retry-After; then it can be undone."""
        ticket = await new_ticket(sessions, world)
        accepted = await reply(client, auth("primary"), ticket)
        assert accepted.status_code == 202, accepted.text
        undo_url = accepted.json()["undo_url"]
        early = await client.post(undo_url, headers=auth("primary"))
        assert_problem(early, 409)
        assert early.headers["Retry-After"] == "1"
        assert_problem(await client.post(undo_url, headers=auth("backup")), 404)
        outbound_id = uuid.UUID(accepted.json()["outbound_id"])
        await record_row(
            sessions,
            ticket,
            world.users["primary"].id,
            outbound_id=outbound_id,
            next_attempt_at=iso(accepted.json()["send_at"]),
        )
        undone = await client.post(undo_url, headers=auth("primary"))
        assert undone.status_code == 200, undone.text
        assert await row_status(sessions, outbound_id) == "cancelled"

    async def test_the_api_documents_undo(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/outbound/{outbound_id}/cancel" in schema["paths"]
        parameters = schema["paths"]["/tickets/{ticket_id}/replies"]["post"]["parameters"]
        assert "Idempotency-Key" in [p["name"] for p in parameters]
