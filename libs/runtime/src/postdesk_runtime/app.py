"""The ASGI app of a consuming service: FastStream subscribers plus /healthz and /readyz."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker

from postdesk_runtime.broker import declare_topology
from postdesk_runtime.health import Check, asgi_health_routes


def consumer_app(
    broker: RabbitBroker,
    *,
    checks: dict[str, Check],
    on_startup: Sequence[Any] = (),
    after_startup: Sequence[Any] = (),
    on_shutdown: Sequence[Any] = (),
    after_shutdown: Sequence[Any] = (),
) -> AsgiFastStream:
    """Connect and declare the topology before subscribers start.

    `on_shutdown` runs before the broker stops (while it can still publish);
    `after_shutdown` after in-flight messages are done (close the engine there).
    """

    async def connect_and_declare() -> None:
        await broker.connect()
        await declare_topology(broker)

    return AsgiFastStream(
        broker,
        asgi_routes=asgi_health_routes(checks),
        on_startup=[connect_and_declare, *on_startup],
        after_startup=list(after_startup),
        on_shutdown=list(on_shutdown),
        after_shutdown=list(after_shutdown),
        asyncapi_path="/asyncapi",
        logger=logging.getLogger(
            "postdesk.app"
        ),  # through the root handler, so structlog renders it
    )
