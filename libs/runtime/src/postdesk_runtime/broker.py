"""The RabbitMQ broker as every service uses it.

- Publisher confirms on, and `on_return_raises`: a mandatory publish that no
  queue takes raises instead of being confirmed and lost.
- Every service declares the whole topology of `postdesk_contracts.topology`
  at start, so an event is routable even before its consumer first starts.
- Events that some postdesk service consumes are published mandatory;
  events only outsiders may subscribe to are not (ADR 0003).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any, cast

from faststream.middlewares import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from faststream.rabbit.schemas.queue import QuorumQueueArgs
from faststream.rabbit.subscriber import RabbitSubscriber
from opentelemetry.sdk.trace import TracerProvider
from postdesk_contracts.envelope import Envelope, EventType
from postdesk_contracts.events import PAYLOADS
from postdesk_contracts.topology import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    SUBSCRIPTIONS,
    QueueSpec,
)

from postdesk_runtime.correlation import CorrelationMiddleware
from postdesk_runtime.metrics import MetricsMiddleware, record_dead_lettered, record_published

SUBSCRIBED_EVENTS = frozenset(spec.event.value for spec in SUBSCRIPTIONS)


def events_exchange() -> RabbitExchange:
    return RabbitExchange(EVENTS_EXCHANGE, type=ExchangeType.TOPIC, durable=True)


def dead_letter_exchange() -> RabbitExchange:
    return RabbitExchange(DEAD_LETTER_EXCHANGE, type=ExchangeType.DIRECT, durable=True)


def rabbit_queue(spec: QueueSpec) -> RabbitQueue:
    return RabbitQueue(
        spec.name,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments=cast("QuorumQueueArgs", spec.arguments()),
        routing_key=spec.event.value,
    )


def dead_letter_queue(spec: QueueSpec) -> RabbitQueue:
    return RabbitQueue(
        spec.dead_letter_name,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=spec.name,
    )


def make_broker(
    amqp_url: str,
    *,
    tracer_provider: TracerProvider | None = None,
    prefetch_count: int = 32,
    graceful_timeout: float = 15.0,
) -> RabbitBroker:
    return RabbitBroker(
        amqp_url,
        default_channel=Channel(
            prefetch_count=prefetch_count, publisher_confirms=True, on_return_raises=True
        ),
        middlewares=[
            CorrelationMiddleware,
            *(
                [RabbitTelemetryMiddleware(tracer_provider=tracer_provider)]
                if tracer_provider is not None
                else []
            ),
            MetricsMiddleware,
        ],
        graceful_timeout=graceful_timeout,
        logger=logging.getLogger(
            "postdesk.broker"
        ),  # through the root handler, so structlog renders it
        log_level=logging.DEBUG,  # per-message logs cost half the throughput at INFO
    )


async def declare_topology(broker: RabbitBroker) -> None:
    """Declare exchanges, every consumer queue with its binding, and the dead-letter queues."""
    events = await broker.declare_exchange(events_exchange())
    dead = await broker.declare_exchange(dead_letter_exchange())
    for spec in SUBSCRIPTIONS:
        queue = await broker.declare_queue(rabbit_queue(spec))
        await queue.bind(events, routing_key=spec.event.value)
        dlq = await broker.declare_queue(dead_letter_queue(spec))
        await dlq.bind(dead, routing_key=spec.name)


def subscriber(broker: RabbitBroker, spec: QueueSpec, *, description: str = "") -> RabbitSubscriber:
    """A durable consumer of `spec`'s queue: acks after the handler returns, nacks on error.

    A nack requeues; the quorum queue counts deliveries and dead-letters the
    message once the limit is reached, so a poison message cannot spin forever.
    """
    return broker.subscriber(
        rabbit_queue(spec),
        events_exchange(),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        description=description or None,
    )


class EventPublisher:
    """Publishes events persistently and returns only once the broker confirmed them."""

    def __init__(self, broker: RabbitBroker) -> None:
        self._broker = broker
        self._exchange = events_exchange()

    async def publish(self, envelope: Envelope[Any]) -> None:
        await self.publish_raw(
            routing_key=envelope.type.value,
            body=envelope.model_dump_json(by_alias=True).encode(),
            event_id=envelope.id,
            correlation_id=envelope.correlation_id,
        )

    async def publish_raw(
        self,
        *,
        routing_key: str,
        body: bytes,
        event_id: uuid.UUID,
        correlation_id: uuid.UUID,
        headers: Mapping[str, str] | None = None,
        exchange: str = EVENTS_EXCHANGE,
    ) -> None:
        """Publish to the events exchange, or (`exchange=DEAD_LETTER_EXCHANGE`) straight into
        the dead-letter queue named by `routing_key`, which must exist (mandatory)."""
        if exchange == EVENTS_EXCHANGE:
            target, mandatory = self._exchange, routing_key in SUBSCRIBED_EVENTS
        elif exchange == DEAD_LETTER_EXCHANGE:
            target, mandatory = dead_letter_exchange(), True
        else:
            raise ValueError(f"unknown exchange {exchange!r}")
        await self._broker.publish(
            body,
            exchange=target,
            routing_key=routing_key,
            persist=True,
            mandatory=mandatory,
            message_id=str(event_id),
            correlation_id=str(correlation_id),
            content_type="application/json",
            headers=dict(headers or {}),
        )
        if exchange == DEAD_LETTER_EXCHANGE:
            record_dead_lettered(routing_key)
        else:
            record_published(routing_key)


__all__ = [
    "EventPublisher",
    "EventType",
    "declare_topology",
    "document_published",
    "events_exchange",
    "make_broker",
    "subscriber",
]


def document_published(broker: RabbitBroker, *events: EventType) -> None:
    """Declare what this service publishes, for the AsyncAPI document.

    Publishing itself goes through `EventPublisher`, which adds confirms,
    mandatory routing and event ids; these publisher objects only describe
    the channels and their envelope schemas.
    """
    for event in events:
        broker.publisher(
            exchange=events_exchange(),
            routing_key=event.value,
            persist=True,
            title=f"{event.value}:publish",
            description=f"{event.value} events, version 1",
            schema=Envelope.__class_getitem__(PAYLOADS[event]),
        )
