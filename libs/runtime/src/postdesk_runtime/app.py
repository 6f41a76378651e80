"""The ASGI app of a consuming service: FastStream subscribers plus /healthz, /readyz, /metrics."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker
from postdesk_contracts.envelope import EventType

from postdesk_runtime.broker import (
    EventPublisher,
    declare_topology,
    document_published,
)
from postdesk_runtime.db import Sessions, make_sessions
from postdesk_runtime.health import Check, asgi_health_routes, readiness_checks
from postdesk_runtime.metrics import asgi_metrics_route
from postdesk_runtime.outage import DatabaseOutageGuard
from postdesk_runtime.outbox import OutboxRelay
from postdesk_runtime.periodic import Periodic
from postdesk_runtime.settings import ServiceSettings
from postdesk_runtime.tracing import configure_tracing, shutdown_tracing
from postdesk_runtime.wiring import broker_for, engine_for


def consumer_app(
    broker: RabbitBroker,
    *,
    checks: dict[str, Check],
    on_startup: Sequence[Any] = (),
    after_startup: Sequence[Any] = (),
    on_shutdown: Sequence[Any] = (),
    after_shutdown: Sequence[Any] = (),
) -> AsgiFastStream:
    """Connect and declare the topology before subscribers start. With a "database" check,
    a handler failing while the database does not answer holds its message until it does
    (postdesk_runtime.outage).

    `on_shutdown` runs before the broker stops (while it can still publish);
    `after_shutdown` after in-flight messages are done (close the engine there).
    """

    if "database" in checks:
        broker.add_middleware(DatabaseOutageGuard(checks["database"]))

    async def connect_and_declare() -> None:
        await broker.connect()
        await declare_topology(broker)

    return AsgiFastStream(
        broker,
        asgi_routes=[*asgi_health_routes(checks), asgi_metrics_route()],
        on_startup=[connect_and_declare, *on_startup],
        after_startup=list(after_startup),
        on_shutdown=list(on_shutdown),
        after_shutdown=list(after_shutdown),
        asyncapi_path="/asyncapi",
        logger=logging.getLogger(
            "postdesk.app"
        ),  # through the root handler, so structlog renders it
    )


@dataclass(frozen=True)
class ConsumerParts:
    """What a consuming service's handlers are wired to."""

    broker: RabbitBroker
    sessions: Sessions
    relay: OutboxRelay
    # what the handlers opened for themselves, closed after the broker has drained
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def outbox_consumer_app(
    service: str,
    settings: ServiceSettings,
    *,
    publishes: Sequence[EventType],
    register: Callable[[ConsumerParts], Sequence[Periodic] | None],
) -> AsgiFastStream:
    """The composition root of a consumer that emits its events through the outbox.

    Builds tracing, the broker (documenting `publishes`), the engine, sessions and
    the outbox relay, then lets `register` attach the subscribers and return its
    background jobs. The relay and the jobs start after startup and stop before
    the broker does; the engine is disposed after the broker has drained
    in-flight messages, which still use the pool, and the queued spans are
    exported last.
    """
    tracer_provider = configure_tracing(service, settings)
    broker = broker_for(settings, tracer_provider, prefetch=settings.prefetch_count)
    document_published(broker, *publishes)
    engine = engine_for(settings)
    sessions = make_sessions(engine)
    relay = OutboxRelay(service, sessions, EventPublisher(broker))
    parts = ConsumerParts(broker=broker, sessions=sessions, relay=relay)
    jobs = list(register(parts) or ())

    async def start_relay() -> None:
        relay.start()
        for job in jobs:
            job.start()

    async def stop_jobs() -> None:
        for job in jobs:
            await job.stop()

    async def dispose_engine() -> None:
        for close in parts.closers:
            await close()
        await engine.dispose()

    async def flush_traces() -> None:  # last: the broker's final spans are queued by now
        await shutdown_tracing(tracer_provider)

    return consumer_app(
        broker,
        checks=readiness_checks(broker, engine),
        after_startup=[start_relay],
        on_shutdown=[stop_jobs, relay.stop],
        after_shutdown=[dispose_engine, flush_traces],
    )
