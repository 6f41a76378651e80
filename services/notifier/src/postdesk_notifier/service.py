"""Consuming one event: claim it, notify whom it concerns, fan it out to webhooks, at once.

Everything an event causes commits in the caller's transaction with its claim
(`processed_events`): the notification rows (grouping.store), their live push,
notification.created for each new row (outbox), and the webhook deliveries.
A redelivered event is claimed already and changes nothing; an error rolls
all of it back, so the redelivery starts from scratch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from postdesk_contracts import Envelope, EventType, NotificationCreated, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import claim_event, outbox_row
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier import webhooks
from postdesk_notifier.domain import NotificationDraft, Skipped
from postdesk_notifier.grouping import Stored, store
from postdesk_notifier.triggers import PLANNERS

SERVICE = "notifier"

log = structlog.get_logger(__name__)


class NotifyStatus(StrEnum):
    NOTIFIED = "notified"
    SKIPPED = "skipped"
    ALREADY_PROCESSED = "already-processed"


@dataclass(frozen=True)
class NotifyOutcome:
    status: NotifyStatus
    stored: tuple[Stored, ...] = field(default_factory=tuple)
    reason: str = ""
    webhook_deliveries: int = 0

    @property
    def emitted(self) -> bool:
        """Whether the outbox got an event (relay.wake() after the commit)."""
        return any(s.created for s in self.stored)


async def consume(
    session: AsyncSession,
    event: Envelope[Any],
    *,
    window: timedelta,
    now: datetime | None = None,
) -> NotifyOutcome:
    """Handle `event` once, in the caller's transaction (see the module docstring)."""
    if not await claim_event(session, SERVICE, event.id):
        return NotifyOutcome(NotifyStatus.ALREADY_PROCESSED)
    outcome = await _notify(session, event, window=window, now=now or datetime.now(UTC))
    deliveries = await webhooks.fan_out(session, event)
    return NotifyOutcome(outcome.status, outcome.stored, outcome.reason, deliveries)


async def _notify(
    session: AsyncSession, event: Envelope[Any], *, window: timedelta, now: datetime
) -> NotifyOutcome:
    planner = PLANNERS.get(event.type)
    if planner is None:
        return NotifyOutcome(NotifyStatus.SKIPPED, reason=f"{event.type.value} notifies nobody")
    plan = await planner(session, event)
    if isinstance(plan, Skipped):
        log.info("event notifies nobody", event_type=event.type.value, reason=plan.reason)
        return NotifyOutcome(NotifyStatus.SKIPPED, reason=plan.reason)
    stored = []
    for draft in plan:
        result = await store(session, draft, source_event_id=event.id, now=now, window=window)
        if result is None:
            continue
        stored.append(result)
        if result.created:
            session.add(outbox_row(SERVICE, _created_event(event, draft, result)))
    if not stored:
        return NotifyOutcome(NotifyStatus.SKIPPED, reason="no recipient wants it")
    return NotifyOutcome(NotifyStatus.NOTIFIED, tuple(stored))


def _created_event(
    cause: Envelope[Any], draft: NotificationDraft, stored: Stored
) -> Envelope[NotificationCreated]:
    return new_envelope(
        EventType.NOTIFICATION_CREATED,
        NotificationCreated(
            notification_id=stored.notification_id,
            user_id=draft.user_id,
            kind=draft.kind.value,
            ticket_id=draft.ticket_id,
            title=draft.title,
        ),
        tenant_id=draft.tenant_id,
        caused_by=cause,
        event_id=created_event_id(cause.id, draft.user_id, draft.kind.value),
    )


def created_event_id(cause_id: uuid.UUID, user_id: uuid.UUID, kind: str) -> uuid.UUID:
    """The id of notification.created for `user_id`'s `kind` notification caused by an event."""
    return derived_event_id(cause_id, f"{EventType.NOTIFICATION_CREATED.value}:{user_id}:{kind}")
