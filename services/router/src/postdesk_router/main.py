"""The router's composition root."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    ConsumerParts,
    configure_logging,
    make_blob_store,
    outbox_consumer_app,
    serve,
)

from postdesk_router.handlers import register_handlers
from postdesk_router.service import SERVICE
from postdesk_router.settings import RouterSettings

PUBLISHES = (
    EventType.TICKET_CREATED,
    EventType.TICKET_MESSAGE_ADDED,
    EventType.TICKET_ASSIGNED,
    EventType.MAIL_REJECTED,
)


def create_app(settings: RouterSettings) -> AsgiFastStream:
    """Wire broker, database, blob store, outbox relay and the mail.parsed subscriber."""

    def register(parts: ConsumerParts) -> None:
        blobs = make_blob_store(settings)
        register_handlers(parts.broker, parts.sessions, blobs, parts.relay)

    return outbox_consumer_app(SERVICE, settings, publishes=PUBLISHES, register=register)


def run() -> None:
    settings = RouterSettings()
    configure_logging(SERVICE, settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
