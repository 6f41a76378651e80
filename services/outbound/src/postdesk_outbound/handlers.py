"""The outbound service's subscriber: outbound.requested in, a scheduled message recorded."""

from __future__ import annotations

from faststream.rabbit import RabbitBroker
from postdesk_contracts import Envelope, EventType, OutboundRequested
from postdesk_contracts.topology import queue_for
from postdesk_runtime import OutboxRelay, Sessions, subscriber

from postdesk_outbound.service import handle_outbound


def register_handlers(broker: RabbitBroker, sessions: Sessions, relay: OutboxRelay) -> None:
    @subscriber(broker, queue_for("outbound", EventType.OUTBOUND_REQUESTED))
    async def on_outbound_requested(event: Envelope[OutboundRequested]) -> None:
        """Schedule an email to send through the tenant's SMTP server (after the undo window,
        or at `send_at`); the sender reports it with mail.sent or mail.failed. A request for
        an account not of the tenant is refused at once with mail.failed."""
        async with sessions() as session, session.begin():
            outcome = await handle_outbound(session, event)
        if outcome.emitted:
            relay.wake()
