"""The broker topology, declared in one place.

- `EVENTS_EXCHANGE`: durable topic exchange; routing key = event type.
- One durable quorum queue per consuming service and event,
  named `<service>.<event type>`, with a delivery limit and at-least-once
  dead-lettering to `DEAD_LETTER_EXCHANGE` under the queue's own name,
  where `<queue>.dlq` keeps it for inspection and replay.
Anyone else may bind queues of their own to the events exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from postdesk_contracts.envelope import EventType

EVENTS_EXCHANGE = "postdesk.events"
DEAD_LETTER_EXCHANGE = "postdesk.dead-letter"
DEFAULT_DELIVERY_LIMIT = 5


@dataclass(frozen=True)
class QueueSpec:
    """A consuming service's queue for one event type."""

    service: str
    event: EventType
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT

    @property
    def name(self) -> str:
        return f"{self.service}.{self.event.value}"

    @property
    def dead_letter_name(self) -> str:
        return f"{self.name}.dlq"

    def arguments(self) -> dict[str, Any]:
        """Quorum queue arguments: poison messages go to the dead-letter queue, never dropped."""
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }


WEBHOOK_EVENTS: tuple[EventType, ...] = (
    EventType.TICKET_CREATED,
    EventType.TICKET_ASSIGNED,
    EventType.TICKET_MESSAGE_ADDED,
    EventType.TICKET_UPDATED,
    EventType.TICKET_NOTE_ADDED,
    EventType.SLA_WARNING,
    EventType.SLA_BREACHED,
    EventType.MAIL_SENT,
    EventType.MAIL_FAILED,
    EventType.OUTBOUND_CANCELLED,
)
"""The event types a tenant may subscribe a webhook to: the ticket's life and its mail's
fate. Internal hand-offs (mail.received, mail.parsed, outbound.requested) carry blob
references and stay inside."""

NOTIFIER_EVENTS: tuple[EventType, ...] = WEBHOOK_EVENTS
"""The notifier consumes every webhook event (for fan-out); some also notify users
(ticket.assigned, ticket.message_added, ticket.note_added, sla.warning, sla.breached)."""

SUBSCRIPTIONS: tuple[QueueSpec, ...] = (
    QueueSpec("parser", EventType.MAIL_RECEIVED),
    QueueSpec("router", EventType.MAIL_PARSED),
    QueueSpec("router", EventType.OUTBOUND_REQUESTED),
    QueueSpec("router", EventType.MAIL_FAILED),
    QueueSpec("router", EventType.MAIL_SENT),
    QueueSpec("router", EventType.OUTBOUND_CANCELLED),
    QueueSpec("router", EventType.TICKET_UPDATED),
    *(QueueSpec("notifier", event) for event in NOTIFIER_EVENTS),
    QueueSpec("outbound", EventType.OUTBOUND_REQUESTED),
)


def queue_for(service: str, event: EventType) -> QueueSpec:
    """The declared queue of `service` for `event`; fails loudly if none is declared."""
    for spec in SUBSCRIPTIONS:
        if spec.service == service and spec.event == event:
            return spec
    raise LookupError(f"no queue declared for {service} on {event.value}")
