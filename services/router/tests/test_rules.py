"""Routing rules on the real PostgreSQL: ticket tokens, sender+subject, reopen and follow-up,
bounces of our mail, imported mail, and the history that explains each decision."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from postdesk_contracts import (
    Address,
    BounceReport,
    EventType,
    MailClassification,
    OutboundRequested,
    new_envelope,
)
from postdesk_contracts.events import MailKind
from postdesk_router import followups
from postdesk_router.service import (
    RouteOutcome,
    RouteStatus,
    default_thread_tokens,
    route_in_transaction,
)
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import EmailAccount, Message, OutboxEvent, Ticket, TicketHistory
from sqlalchemy import select, update
from sqlmodel import col

from .factories import Seed, seed_tenant
from .test_service import PRIMARY, parsed_to

pytestmark = pytest.mark.integration

STRANGER = Address(name="Mallory", email="mallory@elsewhere.example")


async def route(sessions: Sessions, blobs: BlobStore, seed: Seed, **fields: Any) -> RouteOutcome:
    outcome = await route_in_transaction(sessions, blobs, await parsed_to(seed, blobs, **fields))
    assert outcome.status == RouteStatus.ROUTED
    return outcome


async def ticket(sessions: Sessions, ticket_id: uuid.UUID | None) -> Ticket:
    async with sessions() as session:
        return (await session.scalars(select(Ticket).where(col(Ticket.id) == ticket_id))).one()


async def history(sessions: Sessions, ticket_id: uuid.UUID | None) -> list[TicketHistory]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketHistory)
            .where(col(TicketHistory.ticket_id) == ticket_id)
            .order_by(col(TicketHistory.created_at))
        )
        return list(rows.all())


async def set_account(sessions: Sessions, seed: Seed, **values: Any) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(EmailAccount).where(col(EmailAccount.id) == seed.account.id).values(**values)
        )


async def set_status(sessions: Sessions, ticket_id: uuid.UUID | None, status: str) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Ticket).where(col(Ticket.id) == ticket_id).values(status=status)
        )


async def request_outbound(
    sessions: Sessions, seed: Seed, ticket_id: uuid.UUID | None, **fields: Any
) -> OutboundRequested:
    """An agent's reply on the ticket, recorded by the router as the gateway would request it."""
    assert ticket_id is not None
    outbound_id = uuid.uuid4()
    fields.setdefault(
        "message_id",
        default_thread_tokens().message_id(ticket_id, str(outbound_id), "acme.example"),
    )
    request = OutboundRequested(
        outbound_id=outbound_id,
        account_id=seed.account.id,
        ticket_id=ticket_id,
        kind="reply",
        to=[Address(email="carol@customer.example")],
        subject="Re: Printer on fire",
        text="Have you tried water?",
        requested_by=seed.users["pat"].id,
        **fields,
    )
    envelope = new_envelope(EventType.OUTBOUND_REQUESTED, request, tenant_id=seed.tenant.id)
    assert await followups.record_outbound(sessions, envelope)
    assert not await followups.record_outbound(sessions, envelope)  # redelivery: nothing
    return request


async def test_a_reply_token_lets_a_forwarded_address_in_and_a_forged_one_does_not(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await route(sessions, blobs, seed)
    assert first.ticket_id is not None
    token = default_thread_tokens().token(first.ticket_id)
    joined = await route(sessions, blobs, seed, from_=STRANGER, plus_tokens=[token])
    assert joined.ticket_id == first.ticket_id
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    apart = await route(sessions, blobs, seed, from_=STRANGER, plus_tokens=[forged])
    assert apart.ticket_id != first.ticket_id
    rules = [h.rule for h in await history(sessions, first.ticket_id) if h.kind == "matched"]
    assert rules == ["new-ticket", "reply-token"]


async def test_a_signed_message_id_of_another_tenant_is_ignored(
    sessions: Sessions, blobs: BlobStore
) -> None:
    ours, theirs = await seed_tenant(sessions, [PRIMARY]), await seed_tenant(sessions, [PRIMARY])
    their_ticket = (await route(sessions, blobs, theirs)).ticket_id
    assert their_ticket is not None
    signed = default_thread_tokens().message_id(their_ticket, "x1", "acme.example")
    mine = await route(sessions, blobs, ours, in_reply_to=[signed])
    assert mine.ticket_id != their_ticket
    assert (await ticket(sessions, mine.ticket_id)).tenant_id == ours.tenant.id


async def test_answers_to_our_reply_thread_by_its_message_id_even_from_a_cc(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """The reply we sent is stored; a customer's answer to it joins by In-Reply-To, and a
    stranger's answer joins too because our Message-ID is signed (a token only we issue)."""
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await route(sessions, blobs, seed)
    reply = await request_outbound(sessions, seed, first.ticket_id)
    assert reply.message_id is not None
    answer = await route(sessions, blobs, seed, in_reply_to=[reply.message_id])
    assert answer.ticket_id == first.ticket_id
    stored = await ticket(sessions, first.ticket_id)
    assert stored.message_count == 3
    assert stored.last_agent_reply_at is not None
    rules = [h.rule for h in await history(sessions, first.ticket_id) if h.kind == "matched"]
    assert rules == ["new-ticket", "signed-message-id"]


async def test_an_answer_routed_before_our_reply_is_recorded_still_joins(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Without the signature (an unsigned id), the early answer waits on a provisional ticket
    that is merged when our reply is recorded."""
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await route(sessions, blobs, seed)
    unsigned = f"{uuid.uuid4().hex}@acme.example"
    early = await route(sessions, blobs, seed, in_reply_to=[unsigned])
    assert early.ticket_id != first.ticket_id
    await request_outbound(sessions, seed, first.ticket_id, message_id=unsigned)
    merged = await ticket(sessions, early.ticket_id)
    assert merged.merged_into_id == first.ticket_id


async def test_sender_and_subject_match_only_when_the_account_enables_it(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await route(sessions, blobs, seed, subject="Order 77 late")
    off = await route(
        sessions, blobs, seed, subject="RE: order 77 late", normalized_subject="order 77 late"
    )
    assert off.ticket_id != first.ticket_id
    await set_account(sessions, seed, subject_match_days=7)
    on = await route(
        sessions, blobs, seed, subject="AW: Order 77 late", normalized_subject="order 77 late"
    )
    assert on.ticket_id in (first.ticket_id, off.ticket_id)
    old = datetime.now(UTC) - timedelta(days=30)
    stale = await route(
        sessions,
        blobs,
        seed,
        subject="Re: Order 77 late",
        normalized_subject="order 77 late",
        received_at=old + timedelta(days=30 + 8),
        from_=Address(email="other@customer.example"),
    )
    assert stale.ticket_id not in (first.ticket_id, off.ticket_id)


async def test_a_reply_to_a_closed_ticket_reopens_it_and_auto_replies_never_do(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await route(sessions, blobs, seed, message_id="root-1@customer.example")
    await set_status(sessions, first.ticket_id, "closed")
    auto = MailClassification(kind=MailKind.AUTO_REPLY, auto_submitted="auto-replied")
    vacation = await route(
        sessions, blobs, seed, in_reply_to=["root-1@customer.example"], classification=auto
    )
    assert vacation.ticket_id == first.ticket_id
    assert (await ticket(sessions, first.ticket_id)).status == "closed"
    human = await route(sessions, blobs, seed, in_reply_to=["root-1@customer.example"])
    assert human.ticket_id == first.ticket_id
    reopened = await ticket(sessions, first.ticket_id)
    assert reopened.status == "open"
    assert reopened.reopened_count == 1
    kinds = [(h.kind, h.rule) for h in await history(sessions, first.ticket_id)]
    assert ("status", "reopened-by-customer") in kinds


async def test_follow_up_policy_opens_a_linked_ticket(sessions: Sessions, blobs: BlobStore) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    await set_account(sessions, seed, reopen_policy="follow_up")
    first = await route(sessions, blobs, seed, message_id="root-2@customer.example")
    await set_status(sessions, first.ticket_id, "resolved")
    later = await route(sessions, blobs, seed, in_reply_to=["root-2@customer.example"])
    assert later.ticket_id != first.ticket_id
    follow_up = await ticket(sessions, later.ticket_id)
    assert follow_up.linked_ticket_id == first.ticket_id
    assert (await ticket(sessions, first.ticket_id)).status == "resolved"
    matched = [h for h in await history(sessions, later.ticket_id) if h.kind == "matched"]
    assert matched[0].rule == "follow-up:in-reply-to"
    assert f"matched ticket {first.ticket_id} by in-reply-to" in matched[0].detail


async def test_a_customer_reply_to_a_pending_ticket_opens_it(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await route(sessions, blobs, seed, message_id="root-3@customer.example")
    await set_status(sessions, first.ticket_id, "pending")
    await route(sessions, blobs, seed, in_reply_to=["root-3@customer.example"])
    updated = await ticket(sessions, first.ticket_id)
    assert updated.status == "open"
    assert updated.reopened_count == 0


async def test_a_bounce_marks_our_message_failed_and_never_reopens(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await route(sessions, blobs, seed)
    unsigned = f"{uuid.uuid4().hex}@acme.example"
    reply = await request_outbound(sessions, seed, first.ticket_id, message_id=unsigned)
    await set_status(sessions, first.ticket_id, "closed")
    bounce = await route(
        sessions,
        blobs,
        seed,
        from_=Address(name="Mail Delivery System", email="mailer-daemon@mx.customer.example"),
        subject="Undelivered Mail Returned to Sender",
        classification=MailClassification(kind=MailKind.BOUNCE),
        bounce=BounceReport(
            failed_recipients=["carol@customer.example"],
            status="5.1.1",
            reason="550 5.1.1 user unknown",
            original_message_id=unsigned,
        ),
    )
    assert bounce.ticket_id == first.ticket_id
    assert (await ticket(sessions, first.ticket_id)).status == "closed"
    async with sessions() as session:
        ours = (
            await session.scalars(select(Message).where(col(Message.message_id_header) == unsigned))
        ).one()
        failed = (
            await session.scalars(
                select(OutboxEvent).where(
                    col(OutboxEvent.routing_key) == "mail.failed",
                    col(OutboxEvent.service) == "router",
                )
            )
        ).all()
    assert ours.delivery_status == "bounced"
    assert "5.1.1" in ours.delivery_failure
    assert "carol@customer.example" in ours.delivery_failure
    mine = [json.loads(f.body) for f in failed]
    assert [m["payload"]["outbound_id"] for m in mine].count(str(reply.outbound_id)) == 1


async def test_a_bounce_naming_a_customers_message_is_not_let_in(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Only bounces of our own messages join whoever reports them."""
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await route(sessions, blobs, seed, message_id="root-4@customer.example")
    fake = await route(
        sessions,
        blobs,
        seed,
        from_=STRANGER,
        classification=MailClassification(kind=MailKind.BOUNCE),
        bounce=BounceReport(status="5.0.0", original_message_id="root-4@customer.example"),
    )
    assert fake.ticket_id != first.ticket_id


async def test_imported_mail_is_flagged_and_starts_no_clock(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    outcome = await route(sessions, blobs, seed, source="imap-backfill")
    async with sessions() as session:
        rows = (
            await session.scalars(select(OutboxEvent).where(col(OutboxEvent.service) == "router"))
        ).all()
    mine = [json.loads(r.body) for r in rows]
    mine = [m for m in mine if m["payload"].get("ticket_id") == str(outcome.ticket_id)]
    assert {m["type"] for m in mine} >= {"ticket.created", "ticket.assigned"}
    assert all(m["payload"]["imported"] for m in mine if "imported" in m["payload"])
    assert "outbound.requested" not in {m["type"] for m in mine}
