"""The router's composition root."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    EventPublisher,
    LocalBlobStore,
    OutboxRelay,
    configure_logging,
    configure_tracing,
    consumer_app,
    make_broker,
    make_engine,
    make_sessions,
    serve,
)
from postdesk_runtime.broker import document_published
from postdesk_runtime.health import readiness_checks

from postdesk_router.handlers import register_handlers
from postdesk_router.service import SERVICE
from postdesk_router.settings import RouterSettings


def create_app(settings: RouterSettings) -> AsgiFastStream:
    """Wire broker, database, blob store, outbox relay and the mail.parsed subscriber."""
    tracer_provider = configure_tracing(SERVICE, console_export=settings.otel_console_export)
    broker = make_broker(
        settings.amqp_url,
        tracer_provider=tracer_provider,
        prefetch_count=settings.prefetch_count,
        graceful_timeout=settings.shutdown_grace_seconds,
    )
    document_published(
        broker,
        EventType.TICKET_CREATED,
        EventType.TICKET_MESSAGE_ADDED,
        EventType.TICKET_ASSIGNED,
        EventType.MAIL_REJECTED,
    )
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = make_sessions(engine)
    relay = OutboxRelay(SERVICE, sessions, EventPublisher(broker))
    register_handlers(broker, sessions, LocalBlobStore(settings.blob_dir), relay)

    async def start_relay() -> None:
        relay.start()

    async def dispose_engine() -> None:
        await engine.dispose()

    app = consumer_app(
        broker,
        checks=readiness_checks(broker, engine),
        after_startup=[start_relay],
        on_shutdown=[relay.stop],
    )
    app.after_shutdown(dispose_engine)
    return app


def run() -> None:
    settings = RouterSettings()
    configure_logging(SERVICE, settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
