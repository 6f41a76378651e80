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
from postdesk_runtime import add_to_outbox
from postdesk_schema import ProcessedEvent
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier import webhooks
from postdesk_notifier.domain import NotificationDraft, Skipped
from postdesk_notifier.grouping import Stored, store
from postdesk_notifier.triggers import PLANNERS

SERVICE = "notifier"

log = structlog.get_logger(__name__)

# The claim (`processed_events`), and whether any webhook subscription wants the event.
# Built once, on the tables (the ORM adds nothing to an INSERT whose rows are not read back).
_PROCESSED: Table = ProcessedEvent.__table__  # type: ignore[attr-defined]
_CLAIM = (
    insert(_PROCESSED)
    .on_conflict_do_nothing()
    .returning(_PROCESSED.c.event_id, webhooks.SUBSCRIBED)
)


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
    claim = (
        await session.execute(
            _CLAIM,
            {
                "consumer": SERVICE,
                "event_id": event.id,
                "tenant_id": event.tenant_id,
                "types": [event.type.value],
            },
        )
    ).first()
    if claim is None:
        return NotifyOutcome(NotifyStatus.ALREADY_PROCESSED)
    outcome = await _notify(session, event, window=window, now=now or datetime.now(UTC))
    # The claim read whether any subscription wants the event: most tenants have none.
    deliveries = await webhooks.fan_out(session, event) if claim[1] else 0
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
    created = []
    for draft in plan:
        result = await store(session, draft, source_event_id=event.id, now=now, window=window)
        if result is None:
            continue
        stored.append(result)
        if result.created:
            created.append(_created_event(event, draft, result))
    await add_to_outbox(session, SERVICE, created)
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
