"""postdesk's public contracts.

Events travel on one durable topic exchange; the routing key is the event
type. Every event is an `Envelope` whose `payload` is one of the models in
`events`. Contracts only change compatibly (new optional fields); a breaking
change is a new `version` of the event.
"""

from postdesk_contracts.envelope import Envelope, EventType, new_envelope
from postdesk_contracts.events import (
    Address,
    Attachment,
    BounceReport,
    MailClassification,
    MailFailed,
    MailParsed,
    MailReceived,
    MailRejected,
    MailSent,
    NotificationCreated,
    OutboundCancelled,
    OutboundRequested,
    SlaBreached,
    SlaTarget,
    SlaWarning,
    TicketAssigned,
    TicketChange,
    TicketCreated,
    TicketMessageAdded,
    TicketNoteAdded,
    TicketUpdated,
)

__all__ = [
    "Address",
    "Attachment",
    "BounceReport",
    "Envelope",
    "EventType",
    "MailClassification",
    "MailFailed",
    "MailParsed",
    "MailReceived",
    "MailRejected",
    "MailSent",
    "NotificationCreated",
    "OutboundCancelled",
    "OutboundRequested",
    "SlaBreached",
    "SlaTarget",
    "SlaWarning",
    "TicketAssigned",
    "TicketChange",
    "TicketCreated",
    "TicketMessageAdded",
    "TicketNoteAdded",
    "TicketUpdated",
    "new_envelope",
]
