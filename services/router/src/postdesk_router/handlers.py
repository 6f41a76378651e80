"""The router's subscriber: mail.parsed in, tickets and ticket events out (via the outbox)."""

from __future__ import annotations

from faststream.rabbit import RabbitBroker
from postdesk_contracts import Envelope, EventType, MailParsed
from postdesk_contracts.topology import queue_for
from postdesk_runtime import BlobStore, OutboxRelay, Sessions, subscriber

from postdesk_router.service import route_in_transaction


def register_handlers(
    broker: RabbitBroker, sessions: Sessions, blobs: BlobStore, relay: OutboxRelay
) -> None:
    @subscriber(broker, queue_for("router", EventType.MAIL_PARSED))
    async def on_mail_parsed(event: Envelope[MailParsed]) -> None:
        """Attach a parsed email to its ticket or open one, assign it, and announce it.

        Emits ticket.created, ticket.message_added and ticket.assigned, or
        mail.rejected when no active account receives the recipients.
        """
        outcome = await route_in_transaction(sessions, blobs, event)
        if outcome.emitted:
            relay.wake()
