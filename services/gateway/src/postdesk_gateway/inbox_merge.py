"""An agent merges two tickets: the absorbed one's messages move to the survivor.

What moves is what the router's own merges move: the messages. The absorbed
ticket stays as a closed row pointing at the survivor (`merged_into_id`),
with its SLA clocks stopped; its notes and history stay on it, and the
survivor's notes and history include them (they are read through
`db.merged_ticket_ids`), so their origin is never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from postdesk_contracts import EventType, TicketChange, TicketUpdated, new_envelope
from postdesk_contracts.api_inbox import MergeResult
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import Message, SlaTimer, Ticket, TicketHistory, TicketStatus
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_gateway import db, ticket_live, views
from postdesk_gateway.domain import (
    ConflictError,
    CurrentUser,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
)
from postdesk_gateway.inbox_actions import has_right
from postdesk_gateway.service import AGENT_RULE, SERVICE

log = structlog.get_logger(__name__)


async def _lock_both(
    session: AsyncSession, user: CurrentUser, survivor_id: uuid.UUID, absorbed_id: uuid.UUID
) -> tuple[Ticket, Ticket]:
    """Lock both visible tickets in id order, so merges of the same two tickets in
    opposite directions queue behind each other instead of deadlocking."""
    rows = await session.scalars(
        select(Ticket)
        .where(col(Ticket.id).in_([survivor_id, absorbed_id]), db.visible_tickets(user))
        .order_by(col(Ticket.id))
        .with_for_update(of=Ticket)
        .execution_options(populate_existing=True)
    )
    found = {ticket.id: ticket for ticket in rows}
    if survivor_id not in found or absorbed_id not in found:
        raise NotFoundError("ticket not found")
    return found[survivor_id], found[absorbed_id]


async def _require_send(session: AsyncSession, user: CurrentUser, ticket: Ticket) -> None:
    assignment = await db.active_assignment(session, user, ticket.account_id)
    if not has_right(user, assignment, "can_send"):
        raise ForbiddenError("merging needs can_send on both tickets' mailboxes")


async def _move_messages(
    session: AsyncSession, survivor: Ticket, absorbed: Ticket, now: datetime
) -> int:
    moved = await session.execute(
        update(Message)
        .where(col(Message.ticket_id) == absorbed.id, col(Message.tenant_id) == absorbed.tenant_id)
        .values(ticket_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(SlaTimer)
        .where(col(SlaTimer.ticket_id) == absorbed.id, col(SlaTimer.state) != "stopped")
        .values(state="stopped", stopped_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    survivor.message_count = (
        await session.execute(
            select(func.count()).select_from(Message).where(col(Message.ticket_id) == survivor.id)
        )
    ).scalar_one()
    survivor.last_message_at = max(survivor.last_message_at, absorbed.last_message_at)
    survivor.updated_at = now
    absorbed.merged_into_id = survivor.id
    absorbed.status = TicketStatus.CLOSED
    absorbed.closed_at = absorbed.closed_at or now
    absorbed.message_count = 0
    absorbed.updated_at = now
    return int(getattr(moved, "rowcount", 0))


def _changes(
    survivor: Ticket, absorbed: Ticket, old_status: str
) -> dict[uuid.UUID, list[TicketChange]]:
    return {
        absorbed.id: [
            TicketChange(field="merged_into_id", old=None, new=str(survivor.id)),
            TicketChange(field="status", old=old_status, new=str(TicketStatus.CLOSED)),
        ],
        survivor.id: [TicketChange(field="merged_from", old=None, new=str(absorbed.id))],
    }


async def merge_tickets(
    session: AsyncSession,
    user: CurrentUser,
    ticket_id: uuid.UUID,
    into_ticket_id: uuid.UUID,
    *,
    ip: str,
    wake_relay: Callable[[], None],
) -> MergeResult:
    """Merge `ticket_id` into `into_ticket_id`.

    Both must be visible (404) and the caller needs can_send on both mailboxes
    (403); a ticket into itself is 422, a ticket merged already (either one) 409.
    Both rows are locked in id order, so two agents merging the same pair in
    opposite directions wait for each other: the second sees 409. (A deadlock
    with a router merge locking in its own order is answered 409 by errors.py;
    PostgreSQL rolls one side back.) One transaction holds the
    moved messages, both tickets, a history row on each, ticket.updated for
    each and the audit row.
    """
    if ticket_id == into_ticket_id:
        raise UnprocessableError("a ticket cannot be merged into itself")
    survivor, absorbed = await _lock_both(session, user, into_ticket_id, ticket_id)
    await _require_send(session, user, survivor)
    await _require_send(session, user, absorbed)
    if survivor.merged_into_id is not None or absorbed.merged_into_id is not None:
        raise ConflictError("one of the tickets was merged already")
    now = datetime.now(UTC)
    old_status = str(absorbed.status)
    moved = await _move_messages(session, survivor, absorbed, now)
    for target, changes in _changes(survivor, absorbed, old_status).items():
        envelope = new_envelope(
            EventType.TICKET_UPDATED,
            TicketUpdated(
                ticket_id=target,
                account_id=survivor.account_id if target == survivor.id else absorbed.account_id,
                changes=changes,
                rule=AGENT_RULE,
                actor_id=user.id,
            ),
            tenant_id=user.tenant_id,
        )
        session.add(outbox_row(SERVICE, envelope))
        other = absorbed if target == survivor.id else survivor
        session.add(
            TicketHistory(
                tenant_id=user.tenant_id,
                ticket_id=target,
                kind="merged",
                rule=AGENT_RULE,
                detail=(
                    f"#{other.number} merged into this ticket ({moved} messages)"
                    if target == survivor.id
                    else f"merged into #{other.number}"
                ),
                actor_user_id=user.id,
                event_id=envelope.id,
                created_at=now,
            )
        )
    db.audit(
        session,
        user,
        action="ticket.merged",
        object_type="ticket",
        object_id=absorbed.id,
        ip=ip,
        detail={"into_ticket_id": str(survivor.id), "moved_messages": moved},
    )
    result = MergeResult(
        ticket=views.ticket_summary(survivor), merged_ticket_id=absorbed.id, moved_messages=moved
    )
    for merged in (survivor, absorbed):
        await ticket_live.notify_ticket_changed(session, merged, "merged")
    await session.commit()
    wake_relay()
    log.info("tickets merged", ticket_id=str(absorbed.id), into=str(survivor.id), moved=moved)
    return result
