"""Serve an ASGI app with uvicorn; SIGTERM and SIGINT drain in-flight work before exit."""

from __future__ import annotations

from typing import Any

import uvicorn

from postdesk_runtime.settings import ServiceSettings


def serve(app: Any, settings: ServiceSettings) -> None:
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    uvicorn.Server(config).run()
