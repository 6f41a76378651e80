"""Serve an ASGI app with uvicorn; SIGTERM and SIGINT drain in-flight work before exit."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from postdesk_runtime.settings import ServiceSettings


class _DrainingServer(uvicorn.Server):
    """Calls `before_drain` as shutdown begins, before uvicorn waits for open responses to
    finish: the moment to end responses that never finish by themselves (event streams),
    which would otherwise hold the shutdown for the whole grace period and then be cut."""

    def __init__(self, config: uvicorn.Config, before_drain: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_drain = before_drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._before_drain()
        await super().shutdown(sockets)


def make_server(
    app: Any, settings: ServiceSettings, *, before_drain: Callable[[], None] | None = None
) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        # Forwarded headers only from the configured proxies: the client address keys the
        # login throttle and ingest's rate limits.
        proxy_headers=bool(settings.forwarded_allow_ips.strip()),
        forwarded_allow_ips=settings.forwarded_allow_ips.strip() or [],
        log_config=None,
        access_log=False,
        lifespan="on",
        loop=settings.event_loop,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    return uvicorn.Server(config) if before_drain is None else _DrainingServer(config, before_drain)


def serve(
    app: Any, settings: ServiceSettings, *, before_drain: Callable[[], None] | None = None
) -> None:
    make_server(app, settings, before_drain=before_drain).run()
