"""The notifier as it runs: ticket.assigned from RabbitMQ in, a notification and its event out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aio_pika
import pytest
from postdesk_contracts.topology import EVENTS_EXCHANGE
from postdesk_notifier.main import create_app
from postdesk_notifier.settings import NotifierSettings
from postdesk_runtime import EventPublisher, Sessions, declare_topology, make_broker
from postdesk_schema import Notification
from sqlalchemy import select
from sqlmodel import col

from .factories import make_assigned, seed_ticket

pytestmark = pytest.mark.integration

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = 15.0) -> T:
    """Poll `probe` until it returns something other than None."""
    deadline = time.monotonic() + within
    while (found := await probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)
    return found


@contextlib.asynccontextmanager
async def tap(amqp_url: str, routing_key: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A private queue on the events exchange, bound before anything is published."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=routing_key)
        yield queue


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
                while (message := await queue.get(fail=False, no_ack=True)) is not None:
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
