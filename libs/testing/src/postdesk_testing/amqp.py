"""Watching the events exchange from a test, as any outside consumer would."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aio_pika
from postdesk_contracts.topology import EVENTS_EXCHANGE


@contextlib.asynccontextmanager
async def tap(amqp_url: str, *routing_keys: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A private queue on the events exchange, bound to `routing_keys` before anything is published."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in routing_keys:
            await queue.bind(exchange, routing_key=key)
        yield queue


async def drain(queue: aio_pika.abc.AbstractQueue) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message waiting in `queue` now, removed from it."""
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        got.append(message)
    return got
