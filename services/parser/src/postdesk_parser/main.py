"""Composition root of the parser: `create_app(settings)` wires everything; `run()` serves it."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    EventPublisher,
    broker_for,
    configure_logging,
    configure_tracing,
    consumer_app,
    engine_for,
    make_blob_store,
    make_sessions,
    serve,
    shutdown_tracing,
)
from postdesk_runtime.broker import document_published
from postdesk_runtime.health import readiness_checks

from postdesk_parser.handlers import register
from postdesk_parser.service import Ports
from postdesk_parser.settings import ParserSettings


def create_app(settings: ParserSettings) -> AsgiFastStream:
    tracer_provider = configure_tracing("parser", settings)
    broker = broker_for(settings, tracer_provider, prefetch=settings.prefetch_count)
    document_published(broker, EventType.MAIL_PARSED, EventType.MAIL_REJECTED)
    engine = engine_for(settings)
    ports = Ports(
        make_blob_store(settings),
        make_sessions(engine),
        EventPublisher(broker),
        limits=settings.parse_limits(),
    )
    register(broker, ports)
    app = consumer_app(broker, checks=readiness_checks(broker, engine))
    # after the broker has drained in-flight messages, which still use the pool
    app.after_shutdown(engine.dispose)

    @app.after_shutdown
    async def flush_traces() -> None:  # last: the broker's final spans are queued by now
        await shutdown_tracing(tracer_provider)

    return app


def run() -> None:
    settings = ParserSettings()
    configure_logging("parser", settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
