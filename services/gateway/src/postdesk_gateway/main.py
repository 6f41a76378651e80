"""Composition root: `create_app(settings)` wires the gateway; `run()` serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from faststream.rabbit import RabbitBroker
from litestar import Litestar, Request, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.pydantic import PydanticPlugin
from opentelemetry.sdk.trace import TracerProvider
from postdesk_contracts import EventType
from postdesk_runtime import (
    EventPublisher,
    OutboxRelay,
    Sessions,
    ThreadTokens,
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
from postdesk_runtime.keyring import Keyring
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from postdesk_gateway.auth import BearerAuthMiddleware, Passwords, TokenService, provide_user
from postdesk_gateway.errors import exception_handlers
from postdesk_gateway.handlers import BEARER_SCHEME
from postdesk_gateway.handlers.admin_accounts import AccountAdminController
from postdesk_gateway.handlers.admin_assignments import AssignmentAdminController
from postdesk_gateway.handlers.admin_departments import DepartmentCrudController
from postdesk_gateway.handlers.admin_inbound import (
    ImapMailboxAdminController,
    InboundAddressAdminController,
    InboundDomainAdminController,
)
from postdesk_gateway.handlers.admin_logs import LogAdminController
from postdesk_gateway.handlers.admin_sla import SlaPolicyAdminController
from postdesk_gateway.handlers.admin_users import UserAdminController
from postdesk_gateway.handlers.analytics import AnalyticsController
from postdesk_gateway.handlers.api_tokens import ApiTokenAdminController
from postdesk_gateway.handlers.auth import AuthController, MeController, access_dependencies
from postdesk_gateway.handlers.console import console_router
from postdesk_gateway.handlers.departments import DepartmentAdminController
from postdesk_gateway.handlers.health import healthz, metrics_endpoint, readyz
from postdesk_gateway.handlers.inbox_files import AttachmentController, MessageController
from postdesk_gateway.handlers.notes import NoteController
from postdesk_gateway.handlers.notification_settings import NotificationSettingsController
from postdesk_gateway.handlers.notifications import NotificationController, PreferencesController
from postdesk_gateway.handlers.outbound import OutboundController
from postdesk_gateway.handlers.smtp import SmtpAdminController
from postdesk_gateway.handlers.ticket_live import TicketLiveController
from postdesk_gateway.handlers.ticket_staff import TicketStaffController
from postdesk_gateway.handlers.tickets import TicketController
from postdesk_gateway.handlers.uploads import MULTIPART_OVERHEAD_BYTES, UploadController
from postdesk_gateway.handlers.webhooks import WebhookAdminController, WebhookSettingsController
from postdesk_gateway.live import NotificationListener, NotificationStreams
from postdesk_gateway.service import SERVICE
from postdesk_gateway.settings import GatewaySettings
from postdesk_gateway.ticket_live import TicketHub, TicketStreams
from postdesk_gateway.uploads import Uploads


@dataclass(frozen=True)
class Runtime:
    """Everything the gateway holds for its lifetime; built here, nowhere else."""

    engine: AsyncEngine
    sessions: Sessions
    broker: RabbitBroker
    tracer_provider: TracerProvider
    relay: OutboxRelay
    tokens: TokenService
    passwords: Passwords
    thread_tokens: ThreadTokens
    keyring: Keyring
    uploads: Uploads
    listener: NotificationListener
    streams: NotificationStreams
    ticket_streams: TicketStreams


def build_runtime(settings: GatewaySettings) -> Runtime:
    keyring = settings.keyring()
    engine = engine_for(settings)
    sessions = make_sessions(engine)
    tracer_provider = configure_tracing(SERVICE, settings)
    broker = broker_for(settings, tracer_provider)
    document_published(
        broker,
        EventType.OUTBOUND_REQUESTED,
        EventType.OUTBOUND_CANCELLED,
        EventType.TICKET_CREATED,
        EventType.TICKET_ASSIGNED,
        EventType.TICKET_UPDATED,
        EventType.TICKET_NOTE_ADDED,
    )
    ticket_hub = TicketHub(ttl=settings.ticket_presence_ttl_seconds)
    listener = NotificationListener(settings.database_url, channels=[ticket_hub])
    keepalive = timedelta(seconds=settings.notification_keepalive_seconds)
    return Runtime(
        engine=engine,
        sessions=sessions,
        broker=broker,
        tracer_provider=tracer_provider,
        relay=OutboxRelay(SERVICE, sessions, EventPublisher(broker)),
        tokens=TokenService(
            settings.jwt_secret, lifetime=timedelta(minutes=settings.access_token_minutes)
        ),
        passwords=Passwords(),
        thread_tokens=ThreadTokens.from_keyring(keyring),
        keyring=keyring,
        uploads=Uploads(
            keyring,
            make_blob_store(settings),
            max_bytes=settings.upload_max_bytes,
            max_total_bytes=settings.attachments_max_total_bytes,
        ),
        listener=listener,
        streams=NotificationStreams(
            listener,
            sessions,
            keepalive=keepalive,
            overlap=timedelta(seconds=settings.notification_stream_overlap_seconds),
        ),
        ticket_streams=TicketStreams(ticket_hub, listener, keepalive=keepalive, sessions=sessions),
    )


def _dependencies(rt: Runtime) -> dict[str, Provide]:
    async def provide_session() -> AsyncIterator[AsyncSession]:
        async with rt.sessions() as session:
            yield session

    def provide_client_ip(request: Request[Any, Any, State]) -> str:
        return request.client.host if request.client else ""

    def constant(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    wake: Callable[[], None] = rt.relay.wake
    return {
        "session": Provide(provide_session),
        "client_ip": Provide(provide_client_ip, sync_to_thread=False),
        "passwords": constant(rt.passwords),
        "tokens": constant(rt.tokens),
        "thread_tokens": constant(rt.thread_tokens),
        "keyring": constant(rt.keyring),
        "uploads": constant(rt.uploads),
        "wake_relay": constant(wake),
        "notification_streams": constant(rt.streams),
        "ticket_streams": constant(rt.ticket_streams),
        "readiness": constant(readiness_checks(rt.broker, rt.engine)),
    }


def create_app(settings: GatewaySettings) -> Litestar:
    """The gateway's ASGI app. The broker is only for the outbox relay of replies."""
    rt = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            await rt.broker.connect()
            await declare_topology(rt.broker)
            rt.relay.start()
            rt.listener.start()
            yield
        finally:  # also after a failed startup: close whatever was opened
            await rt.listener.stop()
            await rt.relay.stop()
            await rt.broker.stop()
            await rt.engine.dispose()
            await shutdown_tracing(rt.tracer_provider)  # last: the relay's final spans

    app = Litestar(
        route_handlers=[
            AuthController,
            healthz,
            readyz,
            metrics_endpoint,
            MeController,
            ApiTokenAdminController,
            TicketController,
            TicketLiveController,
            AttachmentController,
            MessageController,
            OutboundController,
            SmtpAdminController,
            NotificationController,
            PreferencesController,
            NoteController,
            TicketStaffController,
            DepartmentAdminController,
            WebhookAdminController,
            WebhookSettingsController,
            UserAdminController,
            DepartmentCrudController,
            NotificationSettingsController,
            AccountAdminController,
            AssignmentAdminController,
            LogAdminController,
            SlaPolicyAdminController,
            InboundDomainAdminController,
            InboundAddressAdminController,
            ImapMailboxAdminController,
            AnalyticsController,
            console_router(settings.web_console_dir),
            # Its own body limit: a file up to UPLOAD_MAX_BYTES, not the default 10 MB.
            Router(
                "/",
                route_handlers=[UploadController],
                request_max_body_size=settings.upload_max_bytes + MULTIPART_OVERHEAD_BYTES,
            ),
        ],
        # Secure by default: every route needs a token unless it opts out (login, health)
        # or is the OpenAPI document.
        middleware=[
            DefineMiddleware(
                BearerAuthMiddleware, tokens=rt.tokens, sessions=rt.sessions, exclude=["^/schema"]
            )
        ],
        dependencies={
            **_dependencies(rt),
            **access_dependencies(settings),
            "user": Provide(provide_user),
        },
        exception_handlers=exception_handlers(),
        plugins=[PydanticPlugin(prefer_alias=True)],
        lifespan=[lifespan],
        state=State({"broker": rt.broker, "notification_listener": rt.listener}),
        cors_config=CORSConfig(
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "idempotency-key", "last-event-id"],
        )
        if settings.cors_origins
        else None,
        openapi_config=OpenAPIConfig(
            title="postdesk gateway",
            version="0.1.0",
            description="The HTTP API of postdesk's inbox and admin console.",
            path="/schema",
            components=Components(
                security_schemes={
                    BEARER_SCHEME: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
        ),
        logging_config=None,
    )
    # Around the whole app, so unmatched routes and handled exceptions are counted too.
    app.asgi_handler = HttpMetricsMiddleware(app.asgi_handler)
    return app


def run() -> None:
    settings = GatewaySettings()
    configure_logging(SERVICE, settings.log_format, settings.log_level)
    app = create_app(settings)
    # Event streams never end by themselves: end them before uvicorn waits for responses.
    serve(app, settings, before_drain=app.state["notification_listener"].close_streams)
