"""A ticket whose every message was undone before sending is closed.

Composing a new conversation opens its ticket at once (the gateway hands
its number back); undoing that mail leaves a ticket with nothing in it
that anyone sent or received. The router closes it, with a ticket.updated
and a history line saying why, so it leaves the inbox; the cancelled
message stays on it, and the gateway can still show what was undone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from postdesk_contracts import (
    Envelope,
    OutboundCancelled,
    TicketUpdated,
)
from postdesk_runtime import outbox_row
from postdesk_schema import Message, Ticket, TicketStatus
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_router import db, sla_db, status_events

SERVICE = "router"
RULE = "compose-undone"
REASON = "the mail that opened the ticket was undone before it was sent"


async def close_if_all_undone(
    session: AsyncSession, event: Envelope[OutboundCancelled], ticket_id: uuid.UUID
) -> Envelope[TicketUpdated] | None:
    """Close the ticket when every message on it was cancelled; its ticket.updated, or None."""
    remaining = await session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            col(Message.ticket_id) == ticket_id,
            col(Message.delivery_status).is_distinct_from("cancelled"),
        )
    )
    if remaining or event.tenant_id is None:
        return None
    old = await session.scalar(
        select(col(Ticket.status)).where(col(Ticket.id) == ticket_id).with_for_update()
    )
    if old is None or old == TicketStatus.CLOSED:
        return None
    now = datetime.now(UTC)
    await db.change_status(session, ticket_id, str(TicketStatus.CLOSED), reopened=False)
    await session.execute(update(Ticket).where(col(Ticket.id) == ticket_id).values(closed_at=now))
    await sla_db.on_status_change(
        session, ticket_id=ticket_id, old=str(old), new=str(TicketStatus.CLOSED), at=now
    )
    updated = status_events.status_changed(
        session,
        event,
        tenant_id=event.tenant_id,
        account_id=event.payload.account_id,
        ticket_id=ticket_id,
        old=str(old),
        new=str(TicketStatus.CLOSED),
        rule=RULE,
        reason=REASON,
    )
    session.add(outbox_row(SERVICE, updated))
    return updated
