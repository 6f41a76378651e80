"""The notifier's composition root."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    ConsumerParts,
    configure_logging,
    outbox_consumer_app,
    serve,
)

from postdesk_notifier.handlers import register_handlers
from postdesk_notifier.service import SERVICE
from postdesk_notifier.settings import NotifierSettings


def create_app(settings: NotifierSettings) -> AsgiFastStream:
    """Wire broker, database, outbox relay and the ticket.assigned subscriber."""

    def register(parts: ConsumerParts) -> None:
        register_handlers(parts.broker, parts.sessions, parts.relay)

    return outbox_consumer_app(
        SERVICE, settings, publishes=[EventType.NOTIFICATION_CREATED], register=register
    )


def run() -> None:
    settings = NotifierSettings()
    configure_logging(SERVICE, settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
