"""The outbound service's composition root."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from faststream.asgi import AsgiFastStream
from postdesk_contracts import EventType
from postdesk_runtime import (
    ConsumerParts,
    Periodic,
    ThreadTokens,
    configure_logging,
    make_blob_store,
    outbox_consumer_app,
    serve,
)

from postdesk_outbound.handlers import register_handlers
from postdesk_outbound.sender import recover_stalled, send_due
from postdesk_outbound.service import SERVICE
from postdesk_outbound.settings import OutboundSettings

PUBLISHES = (EventType.MAIL_SENT, EventType.MAIL_FAILED)


def create_app(settings: OutboundSettings) -> AsgiFastStream:
    """Wire broker, database, blob store, outbox relay, the subscriber, the sender and its recovery."""

    def register(parts: ConsumerParts) -> list[Periodic]:
        register_handlers(parts.broker, parts.sessions, parts.relay)
        keyring = settings.keyring()
        lease = timedelta(seconds=settings.sending_lease_seconds)
        send = partial(
            send_due,
            parts.sessions,
            make_blob_store(settings),
            keyring,
            ThreadTokens.from_keyring(keyring),
            batch=settings.send_batch,
            lease=lease,
            retry_base=timedelta(seconds=settings.retry_base_seconds),
            retry_cap=timedelta(seconds=settings.retry_cap_seconds),
        )
        recover = partial(recover_stalled, parts.sessions, lease=lease, batch=settings.send_batch)
        return [
            Periodic(
                "send-due",
                send,
                interval=settings.send_poll_interval_seconds,
                full_batch=settings.send_batch,
                after_work=parts.relay.wake,
            ),
            Periodic(
                "recover-stalled-sends",
                recover,
                interval=settings.recovery_interval_seconds,
                full_batch=settings.send_batch,
                after_work=parts.relay.wake,
            ),
        ]

    return outbox_consumer_app(SERVICE, settings, publishes=PUBLISHES, register=register)


def run() -> None:
    settings = OutboundSettings()
    configure_logging(SERVICE, settings.log_format, settings.log_level)
    serve(create_app(settings), settings)
