"""The router's subscribers: mail.parsed in, tickets and ticket events out (via the outbox);
outbound.requested, mail.failed and agents' ticket.updated keep tickets and clocks current."""

from __future__ import annotations

from faststream.rabbit import RabbitBroker
from postdesk_contracts import (
    Envelope,
    EventType,
    MailFailed,
    MailParsed,
    MailSent,
    OutboundCancelled,
    OutboundRequested,
    TicketUpdated,
)
from postdesk_contracts.topology import queue_for
from postdesk_runtime import BlobStore, OutboxRelay, Sessions, ThreadTokens, subscriber
from postdesk_schema import TakeTicketNumber

from postdesk_router import followups
from postdesk_router.service import route_in_transaction


def register_handlers(
    broker: RabbitBroker,
    sessions: Sessions,
    blobs: BlobStore,
    relay: OutboxRelay,
    tokens: ThreadTokens,
    take_number: TakeTicketNumber,
) -> None:
    @subscriber(broker, queue_for("router", EventType.MAIL_PARSED))
    async def on_mail_parsed(event: Envelope[MailParsed]) -> None:
        """Attach a parsed email to its ticket or open one, assign it, and announce it.

        Emits ticket.created, ticket.message_added, ticket.assigned, ticket.updated
        (reopened, merged), mail.failed (bounces of our mail), outbound.requested
        (auto-replies), or mail.rejected when no active account receives the recipients.
        """
        outcome = await route_in_transaction(
            sessions, blobs, event, tokens=tokens, take_number=take_number
        )
        if outcome.emitted:
            relay.wake()

    @subscriber(broker, queue_for("router", EventType.OUTBOUND_REQUESTED))
    async def on_outbound_requested(event: Envelope[OutboundRequested]) -> None:
        """Store a message we send on its ticket, so answers to it thread; an agent's reply
        stops the first-response clock."""
        await followups.record_outbound(sessions, event)

    @subscriber(broker, queue_for("router", EventType.MAIL_FAILED))
    async def on_mail_failed(event: Envelope[MailFailed]) -> None:
        """Mark the message we could not send as failed, with the reason."""
        await followups.record_failure(sessions, event)

    @subscriber(broker, queue_for("router", EventType.MAIL_SENT))
    async def on_mail_sent(event: Envelope[MailSent]) -> None:
        """Mark the message we sent as sent."""
        await followups.record_sent(sessions, event)

    @subscriber(broker, queue_for("router", EventType.OUTBOUND_CANCELLED))
    async def on_outbound_cancelled(event: Envelope[OutboundCancelled]) -> None:
        """Mark the message undone before sending as cancelled; close a ticket left with
        nothing but undone mail (emits ticket.updated)."""
        if await followups.record_cancelled(sessions, event):
            relay.wake()  # a ticket.updated, if that closed the ticket

    @subscriber(broker, queue_for("router", EventType.TICKET_UPDATED))
    async def on_ticket_updated(event: Envelope[TicketUpdated]) -> None:
        """Pause, resume, stop or re-plan SLA clocks after an agent changed the ticket."""
        await followups.apply_ticket_update(sessions, event)
