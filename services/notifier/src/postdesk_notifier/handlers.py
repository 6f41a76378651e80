"""The notifier's subscriber: ticket.assigned in, an in-app notification and its event out."""

from __future__ import annotations

from faststream.rabbit import RabbitBroker
from postdesk_contracts import Envelope, EventType, TicketAssigned
from postdesk_contracts.topology import queue_for
from postdesk_runtime import OutboxRelay, Sessions, subscriber

from postdesk_notifier.service import notify_assignment


def register_handlers(broker: RabbitBroker, sessions: Sessions, relay: OutboxRelay) -> None:
    @subscriber(broker, queue_for("notifier", EventType.TICKET_ASSIGNED))
    async def on_ticket_assigned(event: Envelope[TicketAssigned]) -> None:
        """Tell the assignee of a ticket about it in-app; emits notification.created."""
        async with sessions() as session, session.begin():
            outcome = await notify_assignment(session, event)
        if outcome.emitted:
            relay.wake()
