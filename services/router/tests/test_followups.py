"""Other services' events on the router's tickets, on the real PostgreSQL: delivery failures
marked on our messages, and agents' status changes driving the SLA clocks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from postdesk_contracts import (
    Address,
    EventType,
    MailFailed,
    MailSent,
    OutboundCancelled,
    OutboundRequested,
    TicketChange,
    TicketUpdated,
    new_envelope,
)
from postdesk_router import followups
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import Message, SlaPolicy, SlaTimer, TicketHistory
from sqlalchemy import select, update
from sqlmodel import col

from .factories import Seed, seed_tenant
from .test_rules import request_outbound, route
from .test_service import PRIMARY

pytestmark = pytest.mark.integration


async def with_policy(sessions: Sessions) -> Seed:
    seed = await seed_tenant(sessions, [PRIMARY])
    async with sessions() as session, session.begin():
        session.add(
            SlaPolicy(
                tenant_id=seed.tenant.id,
                name="standard",
                first_response_minutes=60,
                resolution_minutes=480,
            )
        )
    return seed


async def timers(sessions: Sessions, ticket_id: uuid.UUID | None) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.scalars(select(SlaTimer).where(col(SlaTimer.ticket_id) == ticket_id))
        return {t.target: t.state for t in rows.all()}


async def stop_timers(sessions: Sessions, seed: Seed) -> None:
    """Leave no running timer behind for other tests' scanners."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(SlaTimer)
            .where(col(SlaTimer.tenant_id) == seed.tenant.id)
            .values(state="stopped")
        )


def agent_change(seed: Seed, ticket_id: uuid.UUID | None, old: str, new: str, **kw: Any) -> Any:
    assert ticket_id is not None
    payload = TicketUpdated(
        ticket_id=ticket_id,
        account_id=seed.account.id,
        changes=[TicketChange(field="status", old=old, new=new)],
        rule="agent",
        actor_id=kw.pop("actor_id", seed.users["pat"].id),
    )
    return new_envelope(
        EventType.TICKET_UPDATED, payload, tenant_id=kw.pop("tenant_id", seed.tenant.id)
    )


async def test_an_agents_status_changes_pause_resume_and_stop_the_clocks(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await with_policy(sessions)
    try:
        ticket = (await route(sessions, blobs, seed)).ticket_id
        assert await timers(sessions, ticket) == {
            "first_response": "running",
            "resolution": "running",
        }
        pending = agent_change(seed, ticket, "open", "pending")
        assert await followups.apply_ticket_update(sessions, pending)
        assert not await followups.apply_ticket_update(sessions, pending)  # redelivered
        assert set((await timers(sessions, ticket)).values()) == {"paused"}
        assert await followups.apply_ticket_update(
            sessions, agent_change(seed, ticket, "pending", "open")
        )
        assert set((await timers(sessions, ticket)).values()) == {"running"}
        assert await followups.apply_ticket_update(
            sessions, agent_change(seed, ticket, "open", "resolved")
        )
        assert set((await timers(sessions, ticket)).values()) == {"stopped"}
    finally:
        await stop_timers(sessions, seed)


async def test_changes_without_an_actor_or_of_another_tenant_are_ignored(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed, other = await with_policy(sessions), await seed_tenant(sessions, [PRIMARY])
    try:
        ticket = (await route(sessions, blobs, seed)).ticket_id
        own = agent_change(seed, ticket, "open", "pending", actor_id=None)
        foreign = agent_change(seed, ticket, "open", "pending", tenant_id=other.tenant.id)
        assert not await followups.apply_ticket_update(sessions, own)
        assert not await followups.apply_ticket_update(sessions, foreign)
        assert set((await timers(sessions, ticket)).values()) == {"running"}
    finally:
        await stop_timers(sessions, seed)


async def test_an_agents_reply_stops_the_first_response_clock(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await with_policy(sessions)
    try:
        ticket = (await route(sessions, blobs, seed)).ticket_id
        await request_outbound(sessions, seed, ticket)
        assert await timers(sessions, ticket) == {
            "first_response": "stopped",
            "resolution": "running",
        }
    finally:
        await stop_timers(sessions, seed)


async def test_a_delivery_failure_is_shown_on_our_message_once(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    ticket = (await route(sessions, blobs, seed)).ticket_id
    reply = await request_outbound(sessions, seed, ticket)
    failure = MailFailed(
        outbound_id=reply.outbound_id,
        account_id=seed.account.id,
        ticket_id=ticket,
        reason="no outbound SMTP server configured",
    )
    other = await seed_tenant(sessions, [PRIMARY])
    foreign = new_envelope(EventType.MAIL_FAILED, failure, tenant_id=other.tenant.id)
    assert not await followups.record_failure(sessions, foreign)
    event = new_envelope(EventType.MAIL_FAILED, failure, tenant_id=seed.tenant.id)
    assert await followups.record_failure(sessions, event)
    assert not await followups.record_failure(sessions, event)
    async with sessions() as session:
        ours = (
            await session.scalars(
                select(Message).where(col(Message.outbound_id) == reply.outbound_id)
            )
        ).one()
        noted = (
            await session.scalars(
                select(TicketHistory).where(
                    col(TicketHistory.ticket_id) == ticket, col(TicketHistory.kind) == "delivery"
                )
            )
        ).all()
    assert (ours.delivery_status, ours.delivery_failure) == (
        "failed",
        "no outbound SMTP server configured",
    )
    assert len(noted) == 1


async def test_a_request_naming_another_tenants_ticket_is_not_recorded(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed, other = await seed_tenant(sessions, [PRIMARY]), await seed_tenant(sessions, [PRIMARY])
    their_ticket = (await route(sessions, blobs, other)).ticket_id
    assert their_ticket is not None
    request = OutboundRequested(
        outbound_id=uuid.uuid4(),
        account_id=seed.account.id,
        ticket_id=their_ticket,
        kind="reply",
        to=[Address(email="carol@customer.example")],
        subject="Re: x",
        text="hi",
    )
    event = new_envelope(EventType.OUTBOUND_REQUESTED, request, tenant_id=seed.tenant.id)
    assert not await followups.record_outbound(sessions, event)
    async with sessions() as session:
        stored = (
            await session.scalars(
                select(Message).where(col(Message.outbound_id) == request.outbound_id)
            )
        ).all()
    assert stored == []


async def test_sent_and_cancelled_show_on_our_message_and_never_undo_a_failure(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    ticket = (await route(sessions, blobs, seed)).ticket_id

    async def status_of(outbound_id: uuid.UUID) -> str:
        async with sessions() as session:
            row = (
                await session.scalars(
                    select(Message).where(col(Message.outbound_id) == outbound_id)
                )
            ).one()
            return row.delivery_status

    sent = await request_outbound(sessions, seed, ticket)
    event = new_envelope(
        EventType.MAIL_SENT,
        MailSent(
            outbound_id=sent.outbound_id,
            account_id=seed.account.id,
            ticket_id=ticket,
            message_id=sent.message_id or "",
            smtp_response="250 2.0.0 queued as 4Xy",
        ),
        tenant_id=seed.tenant.id,
    )
    assert await followups.record_sent(sessions, event)
    assert await status_of(sent.outbound_id) == "sent"

    undone = await request_outbound(sessions, seed, ticket)
    cancel = OutboundCancelled(
        outbound_id=undone.outbound_id, account_id=seed.account.id, ticket_id=ticket
    )
    assert await followups.record_cancelled(
        sessions, new_envelope(EventType.OUTBOUND_CANCELLED, cancel, tenant_id=seed.tenant.id)
    )
    late = MailSent(
        outbound_id=undone.outbound_id,
        account_id=seed.account.id,
        message_id=undone.message_id or "",
    )
    assert not await followups.record_sent(
        sessions, new_envelope(EventType.MAIL_SENT, late, tenant_id=seed.tenant.id)
    )
    assert await status_of(undone.outbound_id) == "cancelled"
