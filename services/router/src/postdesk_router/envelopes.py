"""The events the router emits for a routed message; ids derive from the mail.parsed id."""

from __future__ import annotations

import uuid
from typing import Any

from postdesk_contracts import (
    Envelope,
    EventType,
    MailParsed,
    TicketAssigned,
    TicketChange,
    TicketCreated,
    TicketMessageAdded,
    TicketUpdated,
    new_envelope,
)
from postdesk_contracts.envelope import derived_event_id
from postdesk_schema import TicketStatus

from postdesk_router import merge_db
from postdesk_router.db import AccountRef
from postdesk_router.domain import AssigneeChoice, customer_of, ticket_subject


def ticket_created(
    event: Envelope[MailParsed],
    account: AccountRef,
    ticket_id: uuid.UUID,
    number: int,
    message_id: uuid.UUID,
    *,
    linked_to: uuid.UUID | None,
    imported: bool,
) -> Envelope[TicketCreated]:
    mail = event.payload
    customer = customer_of(mail)
    return new_envelope(
        EventType.TICKET_CREATED,
        TicketCreated(
            ticket_id=ticket_id,
            number=number,
            account_id=account.id,
            department_id=account.department_id,
            subject=ticket_subject(mail.subject),
            customer_email=customer.email if customer else "",
            first_message_id=message_id,
            linked_ticket_id=linked_to,
            imported=imported,
        ),
        tenant_id=account.tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.TICKET_CREATED.value),
    )


def message_added(
    event: Envelope[MailParsed],
    account: AccountRef,
    ticket_id: uuid.UUID,
    message_id: uuid.UUID,
    rule: str,
    *,
    imported: bool,
    opened_ticket: bool,
) -> Envelope[TicketMessageAdded]:
    return new_envelope(
        EventType.TICKET_MESSAGE_ADDED,
        TicketMessageAdded(
            ticket_id=ticket_id,
            message_id=message_id,
            account_id=account.id,
            direction="inbound",
            match_rule=str(rule),
            sender_email=event.payload.from_.email if event.payload.from_ else "",
            mail_kind=str(event.payload.classification.kind),
            imported=imported,
            opened_ticket=opened_ticket,
        ),
        tenant_id=account.tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.TICKET_MESSAGE_ADDED.value),
    )


def ticket_assigned(
    event: Envelope[MailParsed],
    account: AccountRef,
    ticket_id: uuid.UUID,
    choice: AssigneeChoice,
    *,
    imported: bool,
) -> Envelope[TicketAssigned]:
    return new_envelope(
        EventType.TICKET_ASSIGNED,
        TicketAssigned(
            ticket_id=ticket_id,
            account_id=account.id,
            assignee_id=choice.user_id,
            rule=str(choice.rule),
            reason=choice.reason,
            imported=imported,
        ),
        tenant_id=account.tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.TICKET_ASSIGNED.value),
    )


def merge_events(
    event: Envelope[MailParsed],
    account: AccountRef,
    survivor: uuid.UUID,
    merged: list[merge_db.TicketRef],
) -> list[Envelope[Any]]:
    """ticket.updated for each early reply's provisional ticket merged into `survivor`."""
    return [
        new_envelope(
            EventType.TICKET_UPDATED,
            TicketUpdated(
                ticket_id=t.id,
                account_id=t.account_id or account.id,
                changes=[
                    TicketChange(field="merged_into_id", old=None, new=str(survivor)),
                    TicketChange(field="status", old=None, new=str(TicketStatus.CLOSED)),
                ],
                rule="merged-early-reply",
                reason=f"its messages reply to a message now stored on ticket {survivor}",
            ),
            tenant_id=account.tenant_id,
            caused_by=event,
            event_id=derived_event_id(event.id, f"ticket.updated:merged:{t.id}"),
        )
        for t in merged
    ]
