"""Composition root of ingest: `create_app(settings)` wires everything; `run()` serves it."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from postdesk_contracts import EventType
from postdesk_runtime import (
    EventPublisher,
    LocalBlobStore,
    configure_logging,
    configure_tracing,
    declare_topology,
    make_broker,
    make_engine,
    make_sessions,
    serve,
)
from postdesk_runtime.broker import document_published
from postdesk_runtime.health import readiness_checks

from postdesk_ingest.handlers import EXCEPTION_HANDLERS, ROUTES, Webhook
from postdesk_ingest.service import Ports
from postdesk_ingest.settings import IngestSettings


def create_app(settings: IngestSettings) -> Litestar:
    """The ingest ASGI app; the broker connects and declares the topology before it serves."""
    tracer_provider = configure_tracing("ingest", console_export=settings.otel_console_export)
    broker = make_broker(
        settings.amqp_url,
        tracer_provider=tracer_provider,
        graceful_timeout=settings.shutdown_grace_seconds,
    )
    document_published(broker, EventType.MAIL_RECEIVED)
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    ports = Ports(
        blobs=LocalBlobStore(settings.blob_dir),
        sessions=make_sessions(engine),
        publisher=EventPublisher(broker),
        tracer=tracer_provider.get_tracer("postdesk.ingest"),
        publish_timeout=settings.publish_timeout_seconds,
    )
    webhook = Webhook(settings.webhook_secret, settings.replay_window_seconds)
    checks = readiness_checks(broker, engine)

    async def connect_broker() -> None:
        await broker.connect()
        await declare_topology(broker)

    async def close() -> None:
        await broker.stop()
        await engine.dispose()
        tracer_provider.shutdown()

    return Litestar(
        route_handlers=ROUTES,
        dependencies={
            "ports": Provide(lambda: ports, use_cache=True, sync_to_thread=False),
            "webhook": Provide(lambda: webhook, use_cache=True, sync_to_thread=False),
            "checks": Provide(lambda: checks, use_cache=True, sync_to_thread=False),
        },
        on_startup=[connect_broker],
        on_shutdown=[close],
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))],
        request_max_body_size=settings.max_message_bytes,
        logging_config=None,  # structlog through the root logger (configure_logging)
        openapi_config=OpenAPIConfig(title="postdesk ingest", version="0.1.0"),
        state=State({"broker": broker, "engine": engine}),
    )


def run() -> None:
    settings = IngestSettings()
    configure_logging("ingest", settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
