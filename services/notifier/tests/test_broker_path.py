"""The notifier as it runs: ticket.assigned from RabbitMQ in, a notification and its event out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from postdesk_notifier.main import create_app
from postdesk_notifier.settings import NotifierSettings
from postdesk_runtime import EventPublisher, Sessions, declare_topology, make_broker
from postdesk_schema import Notification
from postdesk_testing import drain, eventually, tap
from sqlalchemy import select
from sqlmodel import col

from .factories import make_assigned, seed_ticket

pytestmark = pytest.mark.integration


async def test_ticket_assigned_from_broker_notifies(
    database_url: str, amqp_url: str, sessions: Sessions
) -> None:
    """A published ticket.assigned is consumed by the running app and notification.created goes out."""
    seed = await seed_ticket(sessions)
    event = make_assigned(seed)
    app = create_app(NotifierSettings(amqp_url=amqp_url, database_url=database_url))
    publisher_broker = make_broker(amqp_url)
    async with tap(amqp_url, "notification.created") as queue, app.start_lifespan_context():
        try:
            await publisher_broker.connect()
            await declare_topology(publisher_broker)
            await EventPublisher(publisher_broker).publish(event)

            async def notification() -> Notification | None:
                async with sessions() as session:
                    found = await session.scalars(
                        select(Notification).where(col(Notification.source_event_id) == event.id)
                    )
                    return found.one_or_none()

            async def created() -> dict[str, Any] | None:
                for message in await drain(queue):
                    envelope: dict[str, Any] = json.loads(message.body)
                    if envelope["causation_id"] == str(event.id):
                        return envelope
                return None

            stored = await eventually(notification)
            emitted = await eventually(created)
        finally:
            await publisher_broker.stop()

    assert stored.user_id == seed.user.id
    assert emitted["payload"]["notification_id"] == str(stored.id)
    assert emitted["payload"]["title"] == "Ticket #7 assigned to you: Printer on fire"
