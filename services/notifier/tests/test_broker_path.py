"""The notifier as it runs: events from RabbitMQ in; notifications, their events and their
emails out."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aio_pika
import pytest
from postdesk_contracts import Envelope, EventType, TicketCreated, new_envelope
from postdesk_notifier.main import create_app
from postdesk_notifier.settings import NotifierSettings
from postdesk_runtime import EventPublisher, Sessions, declare_topology, make_broker
from postdesk_schema import Notification, ProcessedEvent
from postdesk_testing import drain, eventually, tap
from sqlalchemy import select
from sqlmodel import col

from .factories import Desk, make_assigned, seed_ticket

pytestmark = pytest.mark.integration


def first_caused_by(
    messages: list[aio_pika.abc.AbstractIncomingMessage], predicate: Any
) -> dict[str, Any] | None:
    for message in messages:
        envelope: dict[str, Any] = json.loads(message.body)
        if predicate(envelope):
            return envelope
    return None


async def test_events_from_the_broker_notify_and_mail(
    database_url: str, amqp_url: str, sessions: Sessions
) -> None:
    """A published ticket.assigned is consumed by the running app: the notification is
    stored, notification.created goes out, and (no grouping window here) the email job
    publishes its outbound.requested; a fan-out-only event (ticket.created) is consumed too."""
    seed = await seed_ticket(sessions)
    assigned = make_assigned(seed)
    created = new_envelope(
        EventType.TICKET_CREATED,
        TicketCreated(
            ticket_id=seed.ticket.id,
            number=seed.ticket.number,
            account_id=seed.account.id,
            subject=seed.ticket.subject,
            customer_email=seed.ticket.customer_email,
            first_message_id=uuid.uuid4(),
        ),
        tenant_id=seed.tenant.id,
    )
    settings = NotifierSettings(
        amqp_url=amqp_url,
        database_url=database_url,
        grouping_window_seconds=0,
        email_interval_seconds=0.2,
    )
    app = create_app(settings)
    publisher_broker = make_broker(amqp_url)
    seen: list[aio_pika.abc.AbstractIncomingMessage] = []
    async with (
        tap(amqp_url, "notification.created", "outbound.requested") as queue,
        app.start_lifespan_context(),
    ):
        try:
            await publisher_broker.connect()
            await declare_topology(publisher_broker)
            await EventPublisher(publisher_broker).publish(assigned)
            await EventPublisher(publisher_broker).publish(created)

            async def notification() -> Notification | None:
                async with sessions() as session:
                    found = await session.scalars(
                        select(Notification).where(col(Notification.source_event_id) == assigned.id)
                    )
                    return found.one_or_none()

            async def published(type_: str, predicate: Any) -> dict[str, Any] | None:
                seen.extend(await drain(queue))
                return first_caused_by(seen, lambda e: e["type"] == type_ and predicate(e))

            async def claimed(event: Envelope[Any]) -> ProcessedEvent | None:
                async with sessions() as session:
                    return await session.get(ProcessedEvent, ("notifier", event.id))

            stored = await eventually(notification)
            announced = await eventually(
                lambda: published(
                    "notification.created", lambda e: e["causation_id"] == str(assigned.id)
                )
            )
            mailed = await eventually(
                lambda: published(
                    "outbound.requested",
                    lambda e: e["payload"]["to"][0]["email"] == seed.user.email,
                )
            )
            await eventually(lambda: claimed(created))
        finally:
            await publisher_broker.stop()

    assert stored.user_id == seed.user.id
    assert announced["payload"]["notification_id"] == str(stored.id)
    assert announced["payload"]["title"] == (
        "Ticket #7 assigned to you by rule primary: Printer on fire"
    )
    assert (mailed["payload"]["kind"], mailed["payload"]["ticket_id"]) == ("notification", None)


async def test_a_reply_from_the_broker_reaches_the_primary(
    database_url: str, amqp_url: str, sessions: Sessions
) -> None:
    """ticket.message_added through RabbitMQ notifies the account's primary."""
    desk = await Desk.create(sessions)
    ana = await desk.handler("Ana")
    ticket = await desk.ticket()
    event = desk.message_added(ticket, opened_ticket=True)
    app = create_app(NotifierSettings(amqp_url=amqp_url, database_url=database_url))
    publisher_broker = make_broker(amqp_url)
    async with app.start_lifespan_context():
        try:
            await publisher_broker.connect()
            await EventPublisher(publisher_broker).publish(event)

            async def notification() -> Notification | None:
                async with sessions() as session:
                    found = await session.scalars(
                        select(Notification).where(col(Notification.user_id) == ana.id)
                    )
                    return found.one_or_none()

            stored = await eventually(notification)
        finally:
            await publisher_broker.stop()
    assert (stored.kind, stored.source_event_id) == ("new_ticket", event.id)
