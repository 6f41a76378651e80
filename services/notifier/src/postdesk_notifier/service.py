"""Notifying an assignee, in one transaction with the event's claim and the outbox row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import structlog
from postdesk_contracts import (
    Envelope,
    EventType,
    NotificationCreated,
    TicketAssigned,
    new_envelope,
)
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import claim_event, outbox_row
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier import db
from postdesk_notifier.domain import (
    Skipped,
    plan_assignment_notification,
    skip_backfill,
    skip_self_assignment,
)

SERVICE = "notifier"

log = structlog.get_logger(__name__)


class TicketNotFoundError(LookupError):
    """ticket.assigned names a ticket the database does not hold (retried, then dead-lettered)."""


class NotifyStatus(StrEnum):
    NOTIFIED = "notified"
    SKIPPED = "skipped"
    ALREADY_PROCESSED = "already-processed"


@dataclass(frozen=True)
class NotifyOutcome:
    status: NotifyStatus
    notification_id: uuid.UUID | None = None
    reason: str = ""

    @property
    def emitted(self) -> bool:
        return self.status is NotifyStatus.NOTIFIED


async def notify_assignment(
    session: AsyncSession, event: Envelope[TicketAssigned]
) -> NotifyOutcome:
    """Record the assignee's in-app notification and emit notification.created, once per event.

    An assignment of imported (backfilled) mail, or one the assignee made themselves, is
    consumed without notifying anyone."""
    if not await claim_event(session, SERVICE, event.id):
        return NotifyOutcome(NotifyStatus.ALREADY_PROCESSED)
    assigned = event.payload
    if (skipped := skip_backfill(assigned) or skip_self_assignment(assigned)) is not None:
        log.info(
            "assignment not notified", reason=skipped.reason, ticket_id=str(assigned.ticket_id)
        )
        return NotifyOutcome(NotifyStatus.SKIPPED, reason=skipped.reason)
    ticket = await db.load_ticket(session, assigned.ticket_id)
    if ticket is None:
        raise TicketNotFoundError(f"ticket {assigned.ticket_id} does not exist")
    plan = plan_assignment_notification(
        event.tenant_id, ticket, await db.load_user(session, assigned.assignee_id)
    )
    if isinstance(plan, Skipped):
        log.warning("assignment not notified", reason=plan.reason, ticket_id=str(ticket.id))
        return NotifyOutcome(NotifyStatus.SKIPPED, reason=plan.reason)
    notification_id = await db.insert_notification(session, plan, event.id)
    if notification_id is None:
        return NotifyOutcome(NotifyStatus.ALREADY_PROCESSED)
    created = new_envelope(
        EventType.NOTIFICATION_CREATED,
        NotificationCreated(
            notification_id=notification_id,
            user_id=plan.user_id,
            kind=plan.kind,
            ticket_id=plan.ticket_id,
            title=plan.title,
        ),
        tenant_id=plan.tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.NOTIFICATION_CREATED.value),
    )
    session.add(outbox_row(SERVICE, created))
    log.debug("assignee notified", notification_id=str(notification_id))
    return NotifyOutcome(NotifyStatus.NOTIFIED, notification_id)
