"""Queries of ticket merges (merge.py). Every function runs inside the caller's transaction.

Lock order: the surviving ticket's row is locked first (`live_ticket`, or
it is new and invisible to others), then the absorbed tickets' rows in id
order (`lock_live_tickets`). A message joining a ticket locks its row
before adding to it, so it either lands before a merge moves the ticket's
messages or sees the merge and follows it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from postdesk_schema import Message, SlaTimer, Ticket, TicketStatus
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

MAX_MERGE_HOPS = 32


@dataclass(frozen=True)
class TicketRef:
    id: uuid.UUID
    number: int
    customer_email: str = ""
    account_id: uuid.UUID | None = None


async def live_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> uuid.UUID:
    """Lock `ticket_id` and follow merged_into_id to the ticket that survives, locked too."""
    for _ in range(MAX_MERGE_HOPS):
        merged_into = (
            await session.execute(
                select(col(Ticket.merged_into_id))
                .where(col(Ticket.id) == ticket_id)
                .with_for_update()
            )
        ).scalar_one()
        if merged_into is None:
            return ticket_id
        ticket_id = merged_into
    raise RuntimeError(f"ticket merges from {ticket_id} do not end within {MAX_MERGE_HOPS} hops")


_TICKETS_NAMING = text(
    """
    WITH naming AS MATERIALIZED (
        SELECT ticket_id, tenant_id FROM messages WHERE in_reply_to && CAST(:named AS text[])
        UNION
        SELECT ticket_id, tenant_id FROM messages WHERE "references" && CAST(:named AS text[])
    )
    SELECT DISTINCT naming.ticket_id FROM naming JOIN tickets t ON t.id = naming.ticket_id
     WHERE naming.tenant_id = :tenant AND naming.ticket_id <> :survivor
       AND (CAST(:opened_before AS timestamptz) IS NULL
            OR t.created_at < CAST(:opened_before AS timestamptz)
            OR t.linked_ticket_id IS NULL)
    """
)


async def tickets_naming(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    message_id: str,
    survivor: uuid.UUID,
    *,
    opened_before: datetime | None = None,
) -> list[uuid.UUID]:
    """Tickets other than `survivor` holding a message whose In-Reply-To or References name
    `message_id` (stored with or without angle brackets). With `opened_before`, only those
    opened before it or linked to no ticket: a ticket opened later and linked was kept
    apart on purpose (a follow-up of a closed ticket, a stranger's reply).

    The GIN indexes on both arrays find the few naming messages first (the materialised CTE
    keeps the planner from scanning a tenant it believes small by tenant_id instead, which
    grows with the tenant); the tenant filter applies to those few rows.
    """
    named = [message_id, f"<{message_id}>"]
    rows = await session.execute(
        _TICKETS_NAMING,
        {
            "named": named,
            "tenant": tenant_id,
            "survivor": survivor,
            "opened_before": opened_before,
        },
    )
    return [row.ticket_id for row in rows]


async def lock_live_tickets(
    session: AsyncSession, ticket_ids: Sequence[uuid.UUID]
) -> list[TicketRef]:
    """Lock those of `ticket_ids` not merged yet, in id order; oldest first in the result."""
    rows = await session.execute(
        select(
            col(Ticket.id),
            col(Ticket.number),
            col(Ticket.customer_email),
            col(Ticket.account_id),
            col(Ticket.created_at),
        )
        .where(col(Ticket.id).in_(ticket_ids), col(Ticket.merged_into_id).is_(None))
        .order_by(col(Ticket.id))
        .with_for_update()
    )
    ordered = sorted(rows, key=lambda row: (row.created_at, row.id))
    return [TicketRef(row.id, row.number, row.customer_email, row.account_id) for row in ordered]


async def link(session: AsyncSession, to: uuid.UUID, tickets: Sequence[uuid.UUID]) -> None:
    """Link `tickets` (locked) to `to`, keeping any link they already have."""
    await session.execute(
        update(Ticket)
        .where(col(Ticket.id).in_(tickets), col(Ticket.linked_ticket_id).is_(None))
        .values(linked_ticket_id=to, updated_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )


async def absorb(session: AsyncSession, survivor: uuid.UUID, absorbed: Sequence[uuid.UUID]) -> int:
    """Move every message of `absorbed` to `survivor`, mark them merged and closed (the rows
    stay, as history) with their SLA clocks stopped, recount the survivor; returns how many
    messages moved."""
    now = datetime.now(UTC)
    latest = (
        select(func.max(col(Ticket.last_message_at)))
        .where(col(Ticket.id).in_(absorbed))
        .scalar_subquery()
    )
    await session.execute(
        update(Ticket)
        .where(col(Ticket.id) == survivor)
        .values(last_message_at=func.greatest(col(Ticket.last_message_at), latest))
        .execution_options(synchronize_session=False)
    )
    moved = await session.execute(
        update(Message)
        .where(col(Message.ticket_id).in_(absorbed))
        .values(ticket_id=survivor)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Ticket)
        .where(col(Ticket.id).in_(absorbed))
        .values(
            merged_into_id=survivor, status=TicketStatus.CLOSED, message_count=0, updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(SlaTimer)
        .where(col(SlaTimer.ticket_id).in_(absorbed), col(SlaTimer.state) != "stopped")
        .values(state="stopped", stopped_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    count = (
        select(func.count())
        .select_from(Message)
        .where(col(Message.ticket_id) == survivor)
        .scalar_subquery()
    )
    await session.execute(
        update(Ticket)
        .where(col(Ticket.id) == survivor)
        .values(message_count=count, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(moved, "rowcount", 0))
