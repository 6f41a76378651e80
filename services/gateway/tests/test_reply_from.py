"""A reply's From mailbox (`from_account_id`) and when a mail not sent yet goes (`send_at` of
a ticket's messages). Real PostgreSQL; `world` (conftest) is this module's own.

No outbound service runs here: the rows it would record (`outbound_messages`) are written
by the tests themselves, as that service writes them.
"""

from __future__ import annotations

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
    AssignmentRole,
    AuditLog,
    EmailAccount,
    EmailAssignment,
    Message,
    OutboundMessage,
    OutboxEvent,
    Ticket,
)
from postdesk_testing.problems import assert_problem
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
_numbers = itertools.count(7000)


async def new_ticket(sessions: Sessions, world: Any) -> Ticket:
    """A ticket of the `support` mailbox (primary and backup may send from it)."""
    mailbox = world.accounts["support"]
    number = next(_numbers)
    ticket = Ticket(
        tenant_id=mailbox.tenant_id,
        number=number,
        account_id=mailbox.id,
        subject=f"From {number}",
        customer_email=f"customer{number}@client.test",
        customer_name=f"Customer {number}",
    )
    async with sessions() as session, session.begin():
        session.add(ticket)
    return ticket


async def new_mailbox(
    sessions: Sessions,
    world: Any,
    name: str,
    *,
    holder: str,
    role: AssignmentRole,
    can_send: bool,
    is_active: bool = True,
) -> EmailAccount:
    """A mailbox of tenant A in a domain of its own, `holder` assigned to it."""
    account = EmailAccount(
        tenant_id=world.tenant_a,
        address=f"{name}-{uuid.uuid4().hex[:6]}@{name}-{world.suffix}.test",
        display_name=name.title(),
        is_active=is_active,
    )
    async with sessions() as session, session.begin():
        session.add(account)
        await session.flush()
        session.add(
            EmailAssignment(
                tenant_id=world.tenant_a,
                account_id=account.id,
                user_id=world.users[holder].id,
                role=role,
                can_send=can_send,
            )
        )
    return account


async def reply(
    client: httpx.AsyncClient, headers: dict[str, str], ticket: Ticket, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/tickets/{ticket.id}/replies", headers=headers, json={"text": "Thanks!"} | body
    )


async def requested_for(sessions: Sessions, ticket: Ticket) -> list[dict[str, Any]]:
    """The outbound.requested payloads the gateway committed for the ticket."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                col(OutboxEvent.service) == "gateway",
                col(OutboxEvent.routing_key) == "outbound.requested",
                col(OutboxEvent.body).contains(str(ticket.id)),
            )
        )
        return [json.loads(row.body)["payload"] for row in rows.all()]


async def reply_audit(sessions: Sessions, ticket: Ticket) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog).where(
                col(AuditLog.action) == "ticket.reply_requested",
                col(AuditLog.object_id) == str(ticket.id),
            )
        )
        return [dict(a.detail) for a in rows.all()]


class TestReplyFrom:
    async def test_without_a_from_the_reply_leaves_from_the_tickets_mailbox(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        response = await reply(client, auth("primary"), ticket)
        assert response.status_code == 202, response.text
        [payload] = await requested_for(sessions, ticket)
        support = world.accounts["support"]
        assert payload["account_id"] == str(support.id)
        [detail] = await reply_audit(sessions, ticket)
        assert detail["account_id"] == str(support.id)
        assert detail["from_address"] == support.address

    async def test_a_reply_from_another_mailbox_is_signed_for_the_ticket_in_its_domain(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        settings: GatewaySettings,
    ) -> None:
        """The chosen mailbox sends (its SMTP server, as the outbound service picks it by
        account_id); the Message-ID and the reply-token Reply-To still name the ticket."""
        other = await new_mailbox(
            sessions, world, "billing", holder="primary", role=AssignmentRole.BACKUP, can_send=True
        )
        ticket = await new_ticket(sessions, world)
        response = await reply(client, auth("primary"), ticket, from_account_id=str(other.id))
        assert response.status_code == 202, response.text
        [payload] = await requested_for(sessions, ticket)
        assert payload["account_id"] == str(other.id)
        assert payload["ticket_id"] == str(ticket.id)
        tokens = ThreadTokens.from_keyring(settings.keyring())
        assert payload["message_id"].endswith("@" + other.address.partition("@")[2])
        assert tokens.ticket_of_message_id(payload["message_id"]) == ticket.id
        [reply_to] = payload["reply_to"]
        assert reply_to["email"] == tokens.reply_address(ticket.id, other.address)
        assert reply_to["name"] == "Billing"
        [detail] = await reply_audit(sessions, ticket)
        assert detail["account_id"] == str(other.id)
        assert detail["from_address"] == other.address

    async def test_the_tickets_own_mailbox_may_be_named(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        support = world.accounts["support"]
        response = await reply(client, auth("backup"), ticket, from_account_id=str(support.id))
        assert response.status_code == 202, response.text
        [payload] = await requested_for(sessions, ticket)
        assert payload["account_id"] == str(support.id)

    async def test_a_tenant_admin_may_send_from_any_mailbox_of_the_tenant(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        sales = world.accounts["sales"]  # the admin holds no assignment on it
        response = await reply(client, auth("admin"), ticket, from_account_id=str(sales.id))
        assert response.status_code == 202, response.text
        [payload] = await requested_for(sessions, ticket)
        assert payload["account_id"] == str(sales.id)

    @pytest.mark.parametrize(
        ("role", "mailbox"),
        [
            ("primary", "sales"),  # no assignment on it
            ("backup", "sales"),  # an inactive assignment
            ("primary", "b_support"),  # another tenant's
            ("admin", "b_support"),  # another tenant's, for an admin too
        ],
    )
    async def test_a_mailbox_the_user_cannot_see_is_not_found(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        role: str,
        mailbox: str,
    ) -> None:
        ticket = await new_ticket(sessions, world)
        chosen = world.accounts[mailbox].id
        response = await reply(client, auth(role), ticket, from_account_id=str(chosen))
        assert "mailbox not found" in assert_problem(response, 404)["detail"]
        assert await requested_for(sessions, ticket) == []
        assert await reply_audit(sessions, ticket) == []

    async def test_an_unknown_mailbox_is_not_found(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        response = await reply(client, auth("admin"), ticket, from_account_id=str(uuid.uuid4()))
        assert_problem(response, 404)
        assert await requested_for(sessions, ticket) == []

    async def test_a_viewer_of_the_mailbox_may_not_send_from_it(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        watched = await new_mailbox(
            sessions, world, "watched", holder="primary", role=AssignmentRole.VIEWER, can_send=False
        )
        ticket = await new_ticket(sessions, world)
        response = await reply(client, auth("primary"), ticket, from_account_id=str(watched.id))
        assert "may not send from this mailbox" in assert_problem(response, 403)["detail"]
        assert await requested_for(sessions, ticket) == []

    async def test_a_deactivated_mailbox_sends_no_reply(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        closed = await new_mailbox(
            sessions,
            world,
            "closed",
            holder="primary",
            role=AssignmentRole.PRIMARY,
            can_send=True,
            is_active=False,
        )
        ticket = await new_ticket(sessions, world)
        for role in ("primary", "admin"):
            response = await reply(client, auth(role), ticket, from_account_id=str(closed.id))
            assert "deactivated" in assert_problem(response, 403)["detail"]
        assert await requested_for(sessions, ticket) == []

    async def test_sending_elsewhere_does_not_let_a_viewer_of_the_ticket_answer(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Answering takes can_send on the ticket's mailbox first: a mailbox the viewer may
        send from does not make them someone who acts for this one."""
        own = await new_mailbox(
            sessions, world, "own", holder="viewer", role=AssignmentRole.PRIMARY, can_send=True
        )
        ticket = await new_ticket(sessions, world)
        response = await reply(client, auth("viewer"), ticket, from_account_id=str(own.id))
        assert_problem(response, 403)
        assert await requested_for(sessions, ticket) == []

    async def test_a_from_that_is_not_an_id_is_a_bad_request(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        response = await reply(client, auth("primary"), ticket, from_account_id="support")
        assert_problem(response, 400)


async def outbound_message(
    sessions: Sessions,
    ticket: Ticket,
    at: datetime,
    *,
    status: str | None,
    next_attempt_at: datetime | None = None,
) -> uuid.UUID:
    """Our message on the ticket and, unless `status` is None (not recorded yet), the
    outbound service's row of it."""
    outbound_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        if status is not None:
            session.add(
                OutboundMessage(
                    id=outbound_id,
                    tenant_id=ticket.tenant_id,
                    account_id=ticket.account_id,
                    ticket_id=ticket.id,
                    kind="reply",
                    status=status,
                    next_attempt_at=next_attempt_at,
                    created_at=now,
                    updated_at=now,
                )
            )
        session.add(
            Message(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                account_id=ticket.account_id,
                direction="outbound",
                message_id_header=f"{outbound_id}@acme.test",
                outbound_id=outbound_id,
                delivery_status="scheduled" if status == "scheduled" else "sent",
                created_at=at,
            )
        )
    return outbound_id


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class TestSendTimes:
    async def test_only_mail_still_waiting_for_its_time_says_when_it_goes(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        base = datetime(2025, 3, 1, tzinfo=UTC)
        goes = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        later = goes + timedelta(hours=5)
        waiting = await outbound_message(
            sessions, ticket, base, status="scheduled", next_attempt_at=goes
        )
        also_waiting = await outbound_message(
            sessions, ticket, base + timedelta(minutes=1), status="scheduled", next_attempt_at=later
        )
        retrying = await outbound_message(
            sessions,
            ticket,
            base + timedelta(minutes=2),
            status="retrying",
            next_attempt_at=later,
        )
        sent = await outbound_message(sessions, ticket, base + timedelta(minutes=3), status="sent")
        undone = await outbound_message(
            sessions, ticket, base + timedelta(minutes=4), status="cancelled"
        )
        unrecorded = await outbound_message(
            sessions, ticket, base + timedelta(minutes=5), status=None
        )
        try:
            response = await client.get(f"/tickets/{ticket.id}", headers=auth("primary"))
            assert response.status_code == 200, response.text
            by_outbound = {m["outbound_id"]: m.get("send_at") for m in response.json()["messages"]}
            assert parse(by_outbound[str(waiting)]) == goes
            assert parse(by_outbound[str(also_waiting)]) == later
            for not_waiting in (retrying, sent, undone, unrecorded):
                assert by_outbound[str(not_waiting)] is None
        finally:
            await _cancel_rows(sessions, [waiting, also_waiting, retrying])

    async def test_inbound_mail_has_no_send_time(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        ticket_id = world.tickets["support_1"].id
        response = await client.get(f"/tickets/{ticket_id}", headers=auth("primary"))
        assert response.status_code == 200, response.text
        messages = response.json()["messages"]
        assert messages
        assert all(m.get("send_at") is None for m in messages)


async def _cancel_rows(sessions: Sessions, outbound_ids: list[uuid.UUID]) -> None:
    """Leave no row waiting to be sent for another test's outbound service."""
    async with sessions() as session, session.begin():
        for outbound_id in outbound_ids:
            row = await session.get(OutboundMessage, outbound_id)
            if row is not None:
                row.status = "cancelled"
                row.next_attempt_at = None
