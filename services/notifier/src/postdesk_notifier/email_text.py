"""The email of one notification, as an outbound request. No I/O.

The mail goes to the user's login address, as automatic mail
(`Auto-Submitted: auto-generated`, so no auto-responder answers it), kind
"notification" (unsigned), on no ticket (`ticket_id` None: the router keeps
staff notifications off the customer's conversation), from the account the
email job chose. Its outbound id derives from the notification id, so a
retried job asks for the same mail and outbound records it once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from postdesk_contracts import Address, OutboundRequested

KIND = "notification"
AUTO_SUBMITTED = "auto-generated"
_OUTBOUND_LABEL = "notification-email"


@dataclass(frozen=True)
class EmailFacts:
    """What the email of a notification says, as stored on its row and its ticket."""

    notification_id: uuid.UUID
    title: str
    body: str
    event_count: int
    ticket_id: uuid.UUID | None
    ticket_number: int | None
    ticket_subject: str
    user_name: str
    user_email: str


def notification_outbound_id(notification_id: uuid.UUID) -> uuid.UUID:
    """The outbound id of a notification's email: the same every time it is asked for."""
    return uuid.uuid5(notification_id, _OUTBOUND_LABEL)


def email_text(facts: EmailFacts, app_url: str) -> str:
    lines = [facts.title, ""]
    if facts.body:
        lines += [facts.body, ""]
    if facts.event_count > 1:
        lines += [f"This notification groups {facts.event_count} events.", ""]
    if facts.ticket_number is not None:
        lines.append(f"Ticket #{facts.ticket_number}: {facts.ticket_subject.strip()}")
    if app_url and facts.ticket_id is not None:
        lines.append(f"{app_url.rstrip('/')}/tickets/{facts.ticket_id}")
    lines += [
        "",
        "-- ",
        "You receive this because of your notification preferences in postdesk.",
    ]
    return "\n".join(lines)


def notification_request(
    facts: EmailFacts, *, account_id: uuid.UUID, app_url: str
) -> OutboundRequested:
    return OutboundRequested(
        outbound_id=notification_outbound_id(facts.notification_id),
        account_id=account_id,
        ticket_id=None,
        kind=KIND,
        to=[Address(name=facts.user_name, email=facts.user_email)],
        subject=facts.title,
        text=email_text(facts, app_url),
        auto_submitted=AUTO_SUBMITTED,
    )
