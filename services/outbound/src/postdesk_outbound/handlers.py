"""The outbound service's subscriber: outbound.requested in, mail.sent or mail.failed out."""

from __future__ import annotations

from faststream.rabbit import RabbitBroker
from postdesk_contracts import Envelope, EventType, OutboundRequested
from postdesk_contracts.topology import queue_for
from postdesk_runtime import OutboxRelay, Sessions, subscriber

from postdesk_outbound.service import handle_outbound


def register_handlers(broker: RabbitBroker, sessions: Sessions, relay: OutboxRelay) -> None:
    @subscriber(broker, queue_for("outbound", EventType.OUTBOUND_REQUESTED))
    async def on_outbound_requested(event: Envelope[OutboundRequested]) -> None:
        """Record an email to send through the tenant's SMTP server and report the result.

        The skeleton sends nothing yet: it records the request and emits mail.failed with the reason.
        """
        async with sessions() as session, session.begin():
            outcome = await handle_outbound(session, event)
        if outcome.emitted:
            relay.wake()
