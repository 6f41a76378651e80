"""Explainability and agent actions through the gateway, on the real database and broker.

GET /tickets/{id}/history, the routing fields of the ticket detail, PATCH
/tickets/{id} (status, priority; ticket.updated through the outbox) and the
thread tokens a reply carries. `world` (conftest) is this module's own seed;
tickets that a test changes are created fresh by `new_ticket`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions, ThreadTokens
from postdesk_schema import (
    AuditLog,
    Message,
    OutboxEvent,
    SlaPolicy,
    SlaTimer,
    Ticket,
    TicketHistory,
)
from postdesk_testing import eventually
from postdesk_testing.problems import assert_problem
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
BASE = datetime(2025, 1, 1, tzinfo=UTC)
_numbers = itertools.count(1000)


async def new_ticket(
    sessions: Sessions, world: Any, account: str = "support", **values: Any
) -> Ticket:
    """A fresh open ticket on one of the world's mailboxes."""
    mailbox = world.accounts[account]
    number = next(_numbers)
    ticket = Ticket(
        tenant_id=mailbox.tenant_id,
        number=number,
        account_id=mailbox.id,
        subject=f"Change me {number}",
        customer_email=f"customer{number}@client.test",
        **values,
    )
    async with sessions() as session, session.begin():
        session.add(ticket)
    return ticket


async def stored_ticket(sessions: Sessions, ticket_id: uuid.UUID) -> Ticket:
    async with sessions() as session:
        found = await session.get(Ticket, ticket_id)
    assert found is not None
    return found


async def updated_events(sessions: Sessions, ticket_id: uuid.UUID) -> list[dict[str, Any]]:
    """The envelopes of ticket.updated the gateway committed for the ticket, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(
                col(OutboxEvent.service) == "gateway",
                col(OutboxEvent.routing_key) == "ticket.updated",
                col(OutboxEvent.body).contains(str(ticket_id)),
            )
            .order_by(col(OutboxEvent.created_at))
        )
        return [json.loads(row.body) for row in rows.all()]


async def history_rows(sessions: Sessions, ticket_id: uuid.UUID) -> list[TicketHistory]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketHistory)
            .where(col(TicketHistory.ticket_id) == ticket_id)
            .order_by(col(TicketHistory.created_at), col(TicketHistory.id))
        )
        return list(rows.all())


async def audit_rows(sessions: Sessions, ticket_id: uuid.UUID, action: str) -> list[AuditLog]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog).where(
                col(AuditLog.object_id) == str(ticket_id), col(AuditLog.action) == action
            )
        )
        return list(rows.all())


class TestHistory:
    async def test_history_explains_the_ticket_oldest_first(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Rules that matched and assigned, oldest first, including those of a ticket merged
        into it; the read is audit-logged."""
        ticket = await new_ticket(sessions, world)
        absorbed = await new_ticket(sessions, world, merged_into_id=ticket.id, status="closed")
        unrelated = await new_ticket(sessions, world)
        first = Message(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.id,
            account_id=ticket.account_id,
            message_id_header=f"h-{uuid.uuid4()}@client.test",
            match_rule="new-ticket",
        )
        entries = [
            TicketHistory(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                kind="assigned",
                rule="primary",
                detail="primary handler available",
                created_at=BASE + timedelta(minutes=2),
            ),
            TicketHistory(
                tenant_id=ticket.tenant_id,
                ticket_id=absorbed.id,
                message_id=first.id,
                kind="matched",
                rule="new-ticket",
                detail="no In-Reply-To, References, token or tag matched",
                created_at=BASE + timedelta(minutes=1),
            ),
            TicketHistory(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                kind="reopened",
                rule="reopened-by-customer",
                created_at=BASE + timedelta(minutes=3),
            ),
            TicketHistory(
                tenant_id=ticket.tenant_id,
                ticket_id=unrelated.id,
                kind="matched",
                rule="subject-tag",
                created_at=BASE,
            ),
        ]
        async with sessions() as session, session.begin():
            session.add(first)
            await session.flush()
            session.add_all(entries)

        response = await client.get(f"/tickets/{ticket.id}/history", headers=auth("viewer"))

        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [(i["kind"], i["rule"]) for i in items] == [
            ("matched", "new-ticket"),
            ("assigned", "primary"),
            ("reopened", "reopened-by-customer"),
        ]
        assert items[0]["ticket_id"] == str(absorbed.id)
        assert items[0]["message_id"] == str(first.id)
        assert items[0]["detail"] == "no In-Reply-To, References, token or tag matched"
        assert items[1]["ticket_id"] == str(ticket.id)
        assert items[1]["actor_user_id"] is None
        [audit] = await audit_rows(sessions, ticket.id, "ticket.history_read")
        assert (audit.actor_user_id, audit.tenant_id) == (world.users["viewer"].id, world.tenant_a)

    @pytest.mark.parametrize(
        ("role", "ticket"),
        [("admin_b", "support_1"), ("unassigned", "support_1"), ("primary", "b_1")],
    )
    async def test_history_of_an_invisible_ticket_is_404(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, role: str, ticket: str
    ) -> None:
        """Another tenant's or another mailbox's ticket history looks exactly like a missing one."""
        response = await client.get(
            f"/tickets/{world.tickets[ticket].id}/history", headers=auth(role)
        )
        missing = await client.get(f"/tickets/{uuid.uuid4()}/history", headers=auth(role))
        assert assert_problem(response, 404) == assert_problem(missing, 404)


class TestDetailExplains:
    async def test_detail_shows_routing_and_delivery(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """The detail carries the assignment rule, links, counters and each message's match
        rule and delivery outcome."""
        parent = world.tickets["support_2"]
        ticket = await new_ticket(
            sessions,
            world,
            assignee_id=world.users["backup"].id,
            assignment_rule="backup:primary-outside-hours",
            linked_ticket_id=parent.id,
            reopened_count=2,
            response_minutes=17,
            resolution_minutes=240,
        )
        outbound_id = uuid.uuid4()
        sent = Message(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.id,
            account_id=ticket.account_id,
            direction="outbound",
            message_id_header=f"out-{uuid.uuid4()}@acme.test",
            match_rule="outbound-reply",
            outbound_id=outbound_id,
            delivery_status="bounced",
            delivery_failure="550 5.1.1 mailbox unknown",
        )
        async with sessions() as session, session.begin():
            session.add(sent)

        response = await client.get(f"/tickets/{ticket.id}", headers=auth("primary"))

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["assignment_rule"] == "backup:primary-outside-hours"
        assert body["linked_ticket_id"] == str(parent.id)
        assert body["merged_into_id"] is None
        assert (body["reopened_count"], body["response_minutes"], body["resolution_minutes"]) == (
            2,
            17,
            240,
        )
        [message] = body["messages"]
        assert message["match_rule"] == "outbound-reply"
        assert message["outbound_id"] == str(outbound_id)
        assert (message["delivery_status"], message["delivery_failure"]) == (
            "bounced",
            "550 5.1.1 mailbox unknown",
        )


class TestUpdateTicket:
    async def test_status_change_is_recorded_and_published_once(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """A backup sets pending: the ticket, one history row, one audit row and exactly one
        ticket.updated (rule agent, actor, old/new) are committed together."""
        ticket = await new_ticket(sessions, world)
        actor = world.users["backup"]

        response = await client.patch(
            f"/tickets/{ticket.id}", headers=auth("backup"), json={"status": "pending"}
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["changes"] == [{"field": "status", "old": "open", "new": "pending"}]
        assert (body["ticket"]["id"], body["ticket"]["status"]) == (str(ticket.id), "pending")
        stored = await stored_ticket(sessions, ticket.id)
        assert (stored.status, stored.closed_at, stored.resolved_at) == ("pending", None, None)
        [event] = await updated_events(sessions, ticket.id)
        assert event["tenant_id"] == str(world.tenant_a)
        assert event["payload"] == {
            "ticket_id": str(ticket.id),
            "account_id": str(ticket.account_id),
            "changes": [{"field": "status", "old": "open", "new": "pending"}],
            "rule": "agent",
            "reason": "",
            "actor_id": str(actor.id),
        }
        [history] = await history_rows(sessions, ticket.id)
        assert (history.kind, history.rule, history.actor_user_id) == ("status", "agent", actor.id)
        assert history.detail == "open -> pending"
        assert history.event_id == uuid.UUID(event["id"])
        [audit] = await audit_rows(sessions, ticket.id, "ticket.updated")
        assert audit.actor_user_id == actor.id
        assert audit.detail["event_id"] == event["id"]

        async def published() -> datetime | None:
            async with sessions() as session:
                row = await session.get(OutboxEvent, uuid.UUID(event["id"]))
                return row.published_at if row else None

        await eventually(published)  # the relay was woken and the broker routed it

    async def test_closing_sets_closed_at_and_reopening_clears_it(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Status and priority change in one request (one event, two history rows); closed_at
        follows the status."""
        ticket = await new_ticket(sessions, world)

        closed = await client.patch(
            f"/tickets/{ticket.id}",
            headers=auth("admin"),
            json={"status": "closed", "priority": "urgent"},
        )
        assert closed.status_code == 200, closed.text
        after_close = await stored_ticket(sessions, ticket.id)
        assert (after_close.status, after_close.priority) == ("closed", "urgent")
        assert after_close.closed_at is not None
        [event] = await updated_events(sessions, ticket.id)
        assert event["payload"]["changes"] == [
            {"field": "status", "old": "open", "new": "closed"},
            {"field": "priority", "old": "normal", "new": "urgent"},
        ]
        assert {h.kind for h in await history_rows(sessions, ticket.id)} == {"status", "priority"}

        reopened = await client.patch(
            f"/tickets/{ticket.id}", headers=auth("admin"), json={"status": "open"}
        )
        assert reopened.status_code == 200, reopened.text
        assert (await stored_ticket(sessions, ticket.id)).closed_at is None
        assert len(await updated_events(sessions, ticket.id)) == 2

    @pytest.mark.parametrize(
        "body", [{"status": "open"}, {"status": "open", "priority": "normal"}, {}]
    )
    async def test_no_op_changes_nothing_and_emits_nothing(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        body: dict[str, str],
    ) -> None:
        """Asking for the values the ticket already has is a 200 without event, history or audit."""
        ticket = await new_ticket(sessions, world)
        response = await client.patch(f"/tickets/{ticket.id}", headers=auth("primary"), json=body)
        assert response.status_code == 200, response.text
        assert response.json()["changes"] == []
        assert await updated_events(sessions, ticket.id) == []
        assert await history_rows(sessions, ticket.id) == []
        assert await audit_rows(sessions, ticket.id, "ticket.updated") == []

    async def test_viewer_may_not_change_a_ticket(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """A viewer sees the ticket but gets 403 and changes nothing."""
        ticket = await new_ticket(sessions, world)
        response = await client.patch(
            f"/tickets/{ticket.id}", headers=auth("viewer"), json={"status": "closed"}
        )
        assert_problem(response, 403)
        assert (await stored_ticket(sessions, ticket.id)).status == "open"
        assert await updated_events(sessions, ticket.id) == []

    @pytest.mark.parametrize(
        ("role", "account"),
        [("admin_b", "support"), ("unassigned", "support"), ("backup", "sales")],
    )
    async def test_invisible_ticket_is_404(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        role: str,
        account: str,
    ) -> None:
        """Another tenant's ticket, or one of a mailbox you are not (actively) on, is a 404."""
        ticket = await new_ticket(sessions, world, account)
        response = await client.patch(
            f"/tickets/{ticket.id}", headers=auth(role), json={"status": "closed"}
        )
        assert_problem(response, 404)
        assert (await stored_ticket(sessions, ticket.id)).status == "open"

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "bogus"},
            {"priority": "critical"},
            {"status": None, "priority": 3},
            {"assignee": str(uuid.uuid4())},
        ],
    )
    async def test_bad_values_are_refused(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        body: dict[str, Any],
    ) -> None:
        """Unknown statuses, priorities and fields are a validation problem (400, like every
        other malformed request of this API), and change nothing."""
        ticket = await new_ticket(sessions, world)
        response = await client.patch(f"/tickets/{ticket.id}", headers=auth("admin"), json=body)
        assert assert_problem(response, 400)["errors"]
        assert (await stored_ticket(sessions, ticket.id)).status == "open"
        assert await updated_events(sessions, ticket.id) == []

    async def test_concurrent_changes_chain_their_old_values(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Two agents changing the status at once: each event's `old` is the value the other
        left, never the same stale value twice (the row is locked while changing)."""
        ticket = await new_ticket(sessions, world)
        responses = await asyncio.gather(
            client.patch(
                f"/tickets/{ticket.id}", headers=auth("primary"), json={"status": "pending"}
            ),
            client.patch(
                f"/tickets/{ticket.id}", headers=auth("backup"), json={"status": "resolved"}
            ),
        )
        assert [r.status_code for r in responses] == [200, 200]
        events = await updated_events(sessions, ticket.id)
        pairs = {(c["old"], c["new"]) for e in events for c in e["payload"]["changes"]}
        assert pairs in (
            {("open", "pending"), ("pending", "resolved")},
            {("open", "resolved"), ("resolved", "pending")},
        )
        final = (await stored_ticket(sessions, ticket.id)).status
        assert final == next(new for old, new in pairs if old != "open")


class TestReplyTokens:
    async def test_reply_carries_a_signed_message_id_and_reply_token(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        """outbound.requested names the ticket in a Message-ID and a Reply-To address that only
        postdesk's keyring verifies."""
        ticket = world.tickets["support_1"]
        account = world.accounts["support"]
        response = await client.post(
            f"/tickets/{ticket.id}/replies", headers=auth("primary"), json={"text": "Fixed."}
        )
        assert response.status_code == 202, response.text
        outbound_id = response.json()["outbound_id"]
        async with sessions() as session:
            row = (
                await session.scalars(
                    select(OutboxEvent).where(
                        col(OutboxEvent.routing_key) == "outbound.requested",
                        col(OutboxEvent.body).contains(outbound_id),
                    )
                )
            ).one()
        payload = json.loads(row.body)["payload"]
        tokens = ThreadTokens.from_keyring(settings.keyring())
        local, _, domain = account.address.partition("@")

        assert payload["message_id"].endswith(f"@{domain}")
        assert tokens.ticket_of_message_id(payload["message_id"]) == ticket.id
        assert outbound_id.replace("-", "") in payload["message_id"].replace("-", "")
        [reply_to] = payload["reply_to"]
        assert reply_to["name"] == account.display_name
        assert reply_to["email"] == tokens.reply_address(ticket.id, account.address)
        reply_local, _, reply_domain = reply_to["email"].partition("@")
        assert reply_domain == domain
        assert reply_local.startswith(f"{local}+")
        assert tokens.verify(reply_local.removeprefix(f"{local}+")) == ticket.id
        assert tokens.first_ticket([], [payload["message_id"]]) == ticket.id

    async def test_detail_shows_the_sla_clocks(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Each target's clock: state, due and warning times, breach."""
        ticket = await new_ticket(sessions, world)
        policy = SlaPolicy(tenant_id=ticket.tenant_id, name="gold", first_response_minutes=60)
        breached = SlaTimer(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.id,
            policy_id=policy.id,
            target="first_response",
            due_at=BASE + timedelta(hours=1),
            warn_at=BASE + timedelta(minutes=48),
            warned_at=BASE + timedelta(minutes=48),
            breached_at=BASE + timedelta(hours=1),
        )
        paused = SlaTimer(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.id,
            policy_id=policy.id,
            target="resolution",
            state="paused",
            due_at=BASE + timedelta(hours=8),
            warn_at=BASE + timedelta(hours=6),
            remaining_seconds=3600.0,
        )
        async with sessions() as session, session.begin():
            session.add(policy)
            await session.flush()
            session.add_all([breached, paused])

        body = (await client.get(f"/tickets/{ticket.id}", headers=auth("primary"))).json()

        first, resolution = body["sla"]
        assert (first["target"], first["state"]) == ("first_response", "running")
        assert datetime.fromisoformat(first["breached_at"]) == BASE + timedelta(hours=1)
        assert (resolution["target"], resolution["state"]) == ("resolution", "paused")
        assert resolution["remaining_seconds"] == 3600.0
        plain = (
            await client.get(f"/tickets/{world.tickets['support_2'].id}", headers=auth("primary"))
        ).json()
        assert plain["sla"] == []
