"""Composition root of the parser: `create_app(settings)` wires everything; `run()` serves it."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    EventPublisher,
    configure_logging,
    configure_tracing,
    consumer_app,
    exports_spans,
    make_blob_store,
    make_broker,
    make_engine,
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
    broker = make_broker(
        settings.amqp_url,
        tracer_provider=tracer_provider if exports_spans(settings) else None,
        prefetch_count=settings.prefetch_count,
        graceful_timeout=settings.shutdown_grace_seconds,
    )
    document_published(broker, EventType.MAIL_PARSED, EventType.MAIL_REJECTED)
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_age_seconds=settings.db_connection_max_age_seconds,
    )
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
