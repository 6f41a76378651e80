"""The outbound service's composition root."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    ConsumerParts,
    configure_logging,
    outbox_consumer_app,
    serve,
)

from postdesk_outbound.handlers import register_handlers
from postdesk_outbound.service import SERVICE
from postdesk_outbound.settings import OutboundSettings


def create_app(settings: OutboundSettings) -> AsgiFastStream:
    """Wire broker, database, outbox relay and the outbound.requested subscriber."""

    def register(parts: ConsumerParts) -> None:
        register_handlers(parts.broker, parts.sessions, parts.relay)

    return outbox_consumer_app(
        SERVICE, settings, publishes=[EventType.MAIL_FAILED], register=register
    )


def run() -> None:
    settings = OutboundSettings()
    configure_logging(SERVICE, settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
