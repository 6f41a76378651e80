"""Notifying assignees against the real PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest
from postdesk_contracts.envelope import derived_event_id
from postdesk_notifier.service import NotifyStatus, TicketNotFoundError, notify_assignment
from postdesk_runtime import Sessions
from postdesk_schema import Notification, OutboxEvent
from sqlalchemy import select
from sqlmodel import col

from .factories import make_assigned, seed_ticket

pytestmark = pytest.mark.integration


async def notifications_of(sessions: Sessions, user_id: uuid.UUID) -> list[Notification]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Notification).where(col(Notification.user_id) == user_id)
                )
            ).all()
        )


async def outbox_row(sessions: Sessions, event_id: uuid.UUID) -> OutboxEvent | None:
    async with sessions() as session:
        return await session.get(OutboxEvent, event_id)


async def test_assignee_gets_one_notification_and_event(sessions: Sessions) -> None:
    """ticket.assigned records the notification and commits notification.created with it."""
    seed = await seed_ticket(sessions)
    event = make_assigned(seed)
    async with sessions() as session, session.begin():
        outcome = await notify_assignment(session, event)

    assert outcome.status is NotifyStatus.NOTIFIED
    [notification] = await notifications_of(sessions, seed.user.id)
    assert (notification.kind, notification.title) == (
        "ticket.assigned",
        "Ticket #7 assigned to you: Printer on fire",
    )
    assert (notification.tenant_id, notification.ticket_id, notification.source_event_id) == (
        seed.tenant.id,
        seed.ticket.id,
        event.id,
    )
    row = await outbox_row(sessions, derived_event_id(event.id, "notification.created"))
    assert row is not None
    assert (row.service, row.routing_key) == ("notifier", "notification.created")
    body = json.loads(row.body)
    assert body["payload"]["notification_id"] == str(notification.id)
    assert body["tenant_id"] == str(seed.tenant.id)
    assert body["causation_id"] == str(event.id)


async def test_redelivered_event_notifies_once(sessions: Sessions) -> None:
    """The same ticket.assigned twice leaves one notification and no second event."""
    seed = await seed_ticket(sessions)
    event = make_assigned(seed)
    for _ in range(2):
        async with sessions() as session, session.begin():
            last = await notify_assignment(session, event)
    assert last.status is NotifyStatus.ALREADY_PROCESSED
    assert len(await notifications_of(sessions, seed.user.id)) == 1


async def test_inactive_assignee_is_not_notified(sessions: Sessions) -> None:
    """A deactivated assignee gets nothing, and the event is still consumed."""
    seed = await seed_ticket(sessions, user_active=False)
    event = make_assigned(seed)
    async with sessions() as session, session.begin():
        outcome = await notify_assignment(session, event)
    assert outcome.status is NotifyStatus.SKIPPED
    assert await notifications_of(sessions, seed.user.id) == []
    assert await outbox_row(sessions, derived_event_id(event.id, "notification.created")) is None


async def test_unknown_ticket_fails_and_rolls_back(sessions: Sessions) -> None:
    """A ticket that does not exist raises, so the claim rolls back and the event is retried."""
    seed = await seed_ticket(sessions)
    event = make_assigned(seed, ticket_id=uuid.uuid4())
    with pytest.raises(TicketNotFoundError):
        async with sessions() as session, session.begin():
            await notify_assignment(session, event)
    async with sessions() as session, session.begin():
        with pytest.raises(TicketNotFoundError):
            await notify_assignment(session, event)


async def test_imported_assignment_is_not_notified(sessions: Sessions) -> None:
    """An assignment of mail imported from a mailbox backfill is consumed without a notification."""
    seed = await seed_ticket(sessions)
    event = make_assigned(seed, imported=True)
    async with sessions() as session, session.begin():
        outcome = await notify_assignment(session, event)
    assert outcome.status is NotifyStatus.SKIPPED
    assert outcome.reason == "imported from a mailbox backfill"
    assert await notifications_of(sessions, seed.user.id) == []
    assert await outbox_row(sessions, derived_event_id(event.id, "notification.created")) is None
    async with sessions() as session, session.begin():
        again = await notify_assignment(session, event)
    assert again.status is NotifyStatus.ALREADY_PROCESSED
