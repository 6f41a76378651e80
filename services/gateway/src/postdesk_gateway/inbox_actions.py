"""An agent's actions on a ticket: status, priority, assignee and tags; soft delete.

Each locks the ticket row, so `old` in history and events is the value really
replaced, and commits the change, its history rows, its audit row and its
events (through the outbox) in one transaction, then wakes the relay.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from postdesk_contracts import (
    EventType,
    TicketAssigned,
    TicketChange,
    TicketUpdated,
    new_envelope,
)
from postdesk_contracts.api import TicketFieldChange, TicketUpdateResult
from postdesk_contracts.api_inbox import TicketChangeRequest
from postdesk_contracts.envelope import Envelope
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import EmailAssignment, Ticket, TicketHistory, TicketPriority, TicketStatus
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, inbox_db, ticket_live, views
from postdesk_gateway.domain import (
    CurrentUser,
    FieldChange,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
    field_changes,
)
from postdesk_gateway.inbox_domain import edited_tags
from postdesk_gateway.service import AGENT_RULE, SERVICE

log = structlog.get_logger(__name__)
_HISTORY_KINDS = {"assignee_id": "assigned", "deleted_at": "deleted"}


async def _locked_ticket(session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID) -> Ticket:
    ticket = await db.get_visible_ticket(session, user, ticket_id, lock=True)
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


def has_right(user: CurrentUser, assignment: EmailAssignment | None, name: str) -> bool:
    return user.is_admin or (assignment is not None and bool(getattr(assignment, name)))


def _changes(ticket: Ticket, request: TicketChangeRequest) -> list[FieldChange]:
    found = field_changes(
        {"status": str(ticket.status), "priority": str(ticket.priority)},
        {"status": request.status, "priority": request.priority},
    )
    if request.tags is not None:
        tags = edited_tags(ticket.tags, request.tags)
        if tags != list(ticket.tags):
            found.append(FieldChange("tags", ",".join(ticket.tags), ",".join(tags)))
    if "assignee_id" in request.model_fields_set:
        old = str(ticket.assignee_id) if ticket.assignee_id else None
        new = str(request.assignee_id) if request.assignee_id else None
        if old != new:
            found.append(FieldChange("assignee_id", old, new))
    return found


async def _check_rights(
    session: AsyncSession, user: CurrentUser, ticket: Ticket, changes: list[FieldChange]
) -> None:
    """403 without the right a change needs: can_send for the fields and for taking (or
    dropping) the ticket yourself, can_assign_others for assigning anyone else; then 422
    for an assignee who cannot work the mailbox."""
    assignment = await db.active_assignment(session, user, ticket.account_id)
    for change in changes:
        if change.field != "assignee_id":
            needed = "can_send"
        else:
            own = change.new == str(user.id) or (change.new is None and change.old == str(user.id))
            needed = "can_send" if own else "can_assign_others"
        if not has_right(user, assignment, needed):
            raise ForbiddenError(f"you may not make this change ({needed} needed)")
    for change in changes:
        if change.field == "assignee_id" and change.new is not None:
            ok = await inbox_db.can_be_assignee(
                session, ticket.tenant_id, uuid.UUID(change.new), ticket.account_id
            )
            if not ok:
                raise UnprocessableError(
                    "the assignee must be an active user who may work this mailbox"
                )


def _apply(ticket: Ticket, changes: list[FieldChange], now: datetime) -> None:
    """Set the changed fields. closed_at follows the status; resolved_at is the router's
    (its SLA code stops the clocks and records the resolution)."""
    for change in changes:
        if change.field == "status" and change.new is not None:
            ticket.status = TicketStatus(change.new)
            ticket.closed_at = now if ticket.status is TicketStatus.CLOSED else None
        elif change.field == "priority" and change.new is not None:
            ticket.priority = TicketPriority(change.new)
        elif change.field == "tags":
            ticket.tags = change.new.split(",") if change.new else []
        elif change.field == "assignee_id":
            ticket.assignee_id = uuid.UUID(change.new) if change.new else None
    ticket.updated_at = now


def _events(
    user: CurrentUser,
    ticket: Ticket,
    changes: list[FieldChange],
    *,
    reason: str = "assigned by an agent",
) -> list[Envelope[Any]]:
    """ticket.assigned for a new assignee; ticket.updated for every other change (an
    unassignment included)."""
    events: list[Envelope[Any]] = []
    assigned = next((c for c in changes if c.field == "assignee_id" and c.new), None)
    if assigned is not None:
        events.append(
            new_envelope(
                EventType.TICKET_ASSIGNED,
                TicketAssigned(
                    ticket_id=ticket.id,
                    account_id=ticket.account_id,
                    assignee_id=uuid.UUID(str(assigned.new)),
                    previous_assignee_id=uuid.UUID(assigned.old) if assigned.old else None,
                    rule=AGENT_RULE,
                    reason=reason,
                    assigned_by=user.id,
                ),
                tenant_id=user.tenant_id,
            )
        )
    updated = [c for c in changes if c is not assigned]
    if updated:
        events.append(
            new_envelope(
                EventType.TICKET_UPDATED,
                TicketUpdated(
                    ticket_id=ticket.id,
                    account_id=ticket.account_id,
                    changes=[TicketChange(field=c.field, old=c.old, new=c.new) for c in updated],
                    rule=AGENT_RULE,
                    actor_id=user.id,
                ),
                tenant_id=user.tenant_id,
            )
        )
    return events


def _record(
    session: AsyncSession,
    user: CurrentUser,
    ticket: Ticket,
    changes: list[FieldChange],
    events: list[Envelope[Any]],
    *,
    action: str,
    ip: str,
    now: datetime,
) -> None:
    """History rows, the events through the outbox and the audit row, in the session."""
    for envelope in events:
        session.add(outbox_row(SERVICE, envelope))
    assigned_id = next((e.id for e in events if e.type == EventType.TICKET_ASSIGNED), None)
    updated_id = next((e.id for e in events if e.type == EventType.TICKET_UPDATED), None)
    for change in changes:
        by_assignment = change.field == "assignee_id" and change.new is not None
        event_id = assigned_id if by_assignment else updated_id
        session.add(
            TicketHistory(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                kind=_HISTORY_KINDS.get(change.field, change.field),
                rule=AGENT_RULE,
                detail=f"{change.old} -> {change.new}",
                actor_user_id=user.id,
                event_id=event_id,
                created_at=now,
            )
        )
    db.audit(
        session,
        user,
        action=action,
        object_type="ticket",
        object_id=ticket.id,
        ip=ip,
        detail={
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in changes],
            "event_id": str(updated_id or assigned_id),
            "event_ids": [str(e.id) for e in events],
        },
    )


def record_assignee_change(
    session: AsyncSession,
    user: CurrentUser,
    ticket: Ticket,
    assignee_id: uuid.UUID | None,
    *,
    reason: str,
    ip: str,
    now: datetime,
) -> None:
    """Give a locked ticket a new assignee (None: unassigned) exactly as `change_ticket`
    would, with its history row, audit row and event in the session, for a caller that has
    judged the assignee itself (in bulk) and commits, notifies and wakes the relay."""
    old = str(ticket.assignee_id) if ticket.assignee_id else None
    new = str(assignee_id) if assignee_id else None
    if old == new:
        return
    changes = [FieldChange("assignee_id", old, new)]
    _apply(ticket, changes, now)
    events = _events(user, ticket, changes, reason=reason)
    _record(session, user, ticket, changes, events, action="ticket.updated", ip=ip, now=now)


async def change_ticket(
    session: AsyncSession,
    user: CurrentUser,
    ticket_id: uuid.UUID,
    request: TicketChangeRequest,
    *,
    ip: str,
    wake_relay: Callable[[], None],
) -> TicketUpdateResult:
    """An agent sets a ticket's status, priority, assignee or tags.

    404 for a ticket the caller cannot see, 403 without the right (see
    `_check_rights`), 422 for an unfit assignee or too many tags. Asking for
    the values the ticket already has changes, records and emits nothing.
    """
    ticket = await _locked_ticket(session, user, ticket_id)
    changes = _changes(ticket, request)
    await _check_rights(session, user, ticket, changes)
    if not changes:
        unchanged = TicketUpdateResult(ticket=views.ticket_summary(ticket), changes=[])
        await session.rollback()  # releases the row lock (and expires `ticket`)
        return unchanged
    now = datetime.now(UTC)
    _apply(ticket, changes, now)
    events = _events(user, ticket, changes)
    _record(session, user, ticket, changes, events, action="ticket.updated", ip=ip, now=now)
    result = TicketUpdateResult(
        ticket=views.ticket_summary(ticket),
        changes=[TicketFieldChange(field=c.field, old=c.old, new=c.new) for c in changes],
    )
    await ticket_live.notify_ticket_changed(session, ticket, "updated")
    await session.commit()
    wake_relay()
    log.info("ticket changed", ticket_id=str(ticket_id), fields=[c.field for c in changes])
    return result


async def delete_ticket(
    session: AsyncSession,
    user: CurrentUser,
    ticket_id: uuid.UUID,
    *,
    ip: str,
    wake_relay: Callable[[], None],
) -> None:
    """Soft delete (can_delete on the mailbox, or admin): the ticket leaves every list,
    count and view; its rows stay for the audit trail."""
    ticket = await _locked_ticket(session, user, ticket_id)
    assignment = await db.active_assignment(session, user, ticket.account_id)
    if not has_right(user, assignment, "can_delete"):
        raise ForbiddenError("you may not delete tickets of this mailbox")
    now = datetime.now(UTC)
    ticket.deleted_at, ticket.deleted_by, ticket.updated_at = now, user.id, now
    changes = [FieldChange("deleted_at", None, now.isoformat())]
    events = _events(user, ticket, changes)
    _record(session, user, ticket, changes, events, action="ticket.deleted", ip=ip, now=now)
    await ticket_live.notify_ticket_changed(session, ticket, "deleted")
    await session.commit()
    wake_relay()
    log.info("ticket deleted", ticket_id=str(ticket_id))
