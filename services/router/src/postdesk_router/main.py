"""The router's composition root."""

from __future__ import annotations

from functools import partial

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    ConsumerParts,
    Periodic,
    ThreadTokens,
    configure_logging,
    make_blob_store,
    make_counter_engine,
    outbox_consumer_app,
    serve,
)
from postdesk_schema import TicketNumbers

from postdesk_router.assignment_db import reassign_unanswered
from postdesk_router.handlers import register_handlers
from postdesk_router.service import SERVICE
from postdesk_router.settings import RouterSettings
from postdesk_router.sla_scan import scan_sla

PUBLISHES = (
    EventType.TICKET_CREATED,
    EventType.TICKET_MESSAGE_ADDED,
    EventType.TICKET_ASSIGNED,
    EventType.TICKET_UPDATED,
    EventType.SLA_WARNING,
    EventType.SLA_BREACHED,
    EventType.OUTBOUND_REQUESTED,
    EventType.MAIL_FAILED,
    EventType.MAIL_REJECTED,
)


def create_app(settings: RouterSettings) -> AsgiFastStream:
    """Wire broker, database, blob store, outbox relay, the subscribers and the timer scans."""

    def register(parts: ConsumerParts) -> list[Periodic]:
        blobs = make_blob_store(settings)
        tokens = ThreadTokens.from_keyring(settings.keyring())
        # ticket numbers in transactions of their own: docs/adr/0013
        numbers_engine = make_counter_engine(settings.database_url)
        parts.closers.append(numbers_engine.dispose)
        register_handlers(
            parts.broker, parts.sessions, blobs, parts.relay, tokens, TicketNumbers(numbers_engine)
        )
        batch = settings.timer_scan_batch
        return [
            Periodic(
                "sla-scan",
                partial(scan_sla, parts.sessions, batch=batch),
                interval=settings.timer_scan_interval_seconds,
                full_batch=batch,
                after_work=parts.relay.wake,
            ),
            Periodic(
                "reassign-unanswered",
                partial(reassign_unanswered, parts.sessions, batch=batch),
                interval=settings.timer_scan_interval_seconds,
                full_batch=batch,
                after_work=parts.relay.wake,
            ),
        ]

    return outbox_consumer_app(SERVICE, settings, publishes=PUBLISHES, register=register)


def run() -> None:
    settings = RouterSettings()
    configure_logging(SERVICE, settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
