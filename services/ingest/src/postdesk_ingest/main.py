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
    broker_for,
    configure_logging,
    configure_tracing,
    declare_topology,
    engine_for,
    make_blob_store,
    make_sessions,
    serve,
    shutdown_tracing,
)
from postdesk_runtime.broker import document_published
from postdesk_runtime.health import readiness_checks
from postdesk_runtime.http_metrics import HttpMetricsMiddleware

from postdesk_ingest.handlers import EXCEPTION_HANDLERS, ROUTES, Webhook
from postdesk_ingest.imap import ImapPoller
from postdesk_ingest.maildir import maildir_watcher
from postdesk_ingest.providers import build_providers
from postdesk_ingest.ratelimit import RateLimiter
from postdesk_ingest.recipients import RecipientDirectory
from postdesk_ingest.service import Ports
from postdesk_ingest.settings import IngestSettings
from postdesk_ingest.smtp import Listeners, start_listeners


def create_app(settings: IngestSettings) -> Litestar:
    """The ingest ASGI app; the broker connects and declares the topology before it serves."""
    tracer_provider = configure_tracing("ingest", settings)
    broker = broker_for(settings, tracer_provider)
    document_published(broker, EventType.MAIL_RECEIVED)
    engine = engine_for(settings)
    ports = Ports(
        blobs=make_blob_store(settings),
        sessions=make_sessions(engine),
        publisher=EventPublisher(broker),
        tracer=tracer_provider.get_tracer("postdesk.ingest"),
        publish_timeout=settings.publish_timeout_seconds,
    )
    webhook = Webhook(settings.webhook_secret, settings.replay_window_seconds)
    checks = readiness_checks(broker, engine)
    imap = ImapPoller(ports=ports, keyring=settings.keyring(), settings=settings.imap)
    maildirs = maildir_watcher(settings, ports, max_bytes=settings.max_message_bytes)
    directory = RecipientDirectory(
        ports.sessions,
        ttl_seconds=settings.recipient_cache_seconds,
        unknown_ttl_seconds=settings.recipient_unknown_cache_seconds,
    )
    limiter = RateLimiter.from_settings(settings)  # per replica; SMTP uses it too (state)
    providers = build_providers(
        settings,
        limiter,
        max_message_bytes=settings.max_message_bytes,
        replay_window_seconds=settings.replay_window_seconds,
    )
    state = State({"broker": broker, "engine": engine, "directory": directory})
    state.rate_limiter = limiter

    async def connect_broker() -> None:
        await broker.connect()
        await declare_topology(broker)

    async def start_mail_listeners() -> None:  # after the broker: DATA publishes at once
        state.listeners = await start_listeners(
            settings, ports, directory, max_bytes=settings.max_message_bytes, limiter=limiter
        )

    async def stop_mail_listeners() -> None:
        listeners: Listeners | None = state.get("listeners")
        if listeners is not None:
            await listeners.stop(settings.shutdown_grace_seconds)

    async def close() -> None:
        await broker.stop()
        await engine.dispose()
        await shutdown_tracing(tracer_provider)  # after the broker: its last spans

    app = Litestar(
        route_handlers=ROUTES,
        dependencies={
            "ports": Provide(lambda: ports, use_cache=True, sync_to_thread=False),
            "webhook": Provide(lambda: webhook, use_cache=True, sync_to_thread=False),
            "checks": Provide(lambda: checks, use_cache=True, sync_to_thread=False),
            "directory": Provide(lambda: directory, use_cache=True, sync_to_thread=False),
            "providers": Provide(lambda: providers, use_cache=True, sync_to_thread=False),
            "limiter": Provide(lambda: limiter, use_cache=True, sync_to_thread=False),
        },
        on_startup=[
            connect_broker,
            start_mail_listeners,
            *([imap.start] if settings.imap.enabled else []),
            maildirs.start,
        ],
        on_shutdown=[
            maildirs.stop,
            *([imap.stop] if settings.imap.enabled else []),
            stop_mail_listeners,
            close,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))],
        request_max_body_size=settings.max_message_bytes,
        logging_config=None,  # structlog through the root logger (configure_logging)
        openapi_config=OpenAPIConfig(title="postdesk ingest", version="0.1.0"),
        state=state,
    )
    # Around the whole app, so unmatched routes and handled exceptions are counted too.
    app.asgi_handler = HttpMetricsMiddleware(app.asgi_handler)
    return app


def run() -> None:
    settings = IngestSettings()
    configure_logging("ingest", settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
