"""The parser's subscriber: mail.received in, mail.parsed or mail.rejected out."""

from __future__ import annotations

from faststream.rabbit import RabbitBroker
from postdesk_contracts import Envelope, EventType, MailReceived
from postdesk_contracts.topology import queue_for
from postdesk_runtime.broker import subscriber

from postdesk_parser.service import Ports, handle_mail_received


def register(broker: RabbitBroker, ports: Ports) -> None:
    """Attach the parser's subscribers to `broker`."""

    @subscriber(broker, queue_for("parser", EventType.MAIL_RECEIVED))
    async def on_mail_received(event: Envelope[MailReceived]) -> None:
        """Parse a received mail and publish mail.parsed, or mail.rejected when it cannot be parsed.

        Acked once the outcome is logged and confirmed by the broker; blob store,
        database or broker failures nack it for redelivery.
        """
        await handle_mail_received(event, ports)
