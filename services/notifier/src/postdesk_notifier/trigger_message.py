"""New customer mail on a ticket (ticket.message_added): who is told, as drafts.

Only live inbound mail a person wrote notifies (not ours, not auto-replies,
bounces, lists or spam, not backfilled mail). The first message of a ticket
is a `new_ticket`, any later one a `customer_reply`. Availability is judged
at the event's time, so a redelivery decides the same. Recipients:
`recipients.mail_recipients`.
"""

from __future__ import annotations

from functools import partial

from postdesk_contracts import Envelope, TicketMessageAdded
from postdesk_contracts.notify_prefs import NotificationKind
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier import recipients_db, titles
from postdesk_notifier.domain import (
    NotificationDraft,
    Skipped,
    draft_for,
    skip_backfill,
    skip_foreign_tenant,
    skip_not_customer_mail,
)
from postdesk_notifier.recipients import mail_recipients


async def plan_message(
    session: AsyncSession, event: Envelope[TicketMessageAdded]
) -> list[NotificationDraft] | Skipped:
    added = event.payload
    if (skipped := skip_backfill(added) or skip_not_customer_mail(added)) is not None:
        return skipped
    ticket = await recipients_db.require_ticket(session, added.ticket_id)
    if (skipped := skip_foreign_tenant(event.tenant_id, ticket)) is not None:
        return skipped
    chosen = mail_recipients(
        assignee=await recipients_db.person(session, ticket.tenant_id, ticket.assignee_id),
        handlers=await recipients_db.account_handlers(session, ticket.tenant_id, ticket.account_id),
        at=event.occurred_at,
        opened_ticket=added.opened_ticket,
        sender_ids=await recipients_db.staff_with_address(
            session, ticket.tenant_id, added.sender_email
        ),
    )
    if added.opened_ticket:
        kind, wording = NotificationKind.NEW_TICKET, titles.new_ticket
    else:
        kind, wording = NotificationKind.CUSTOMER_REPLY, titles.customer_reply
    sender = added.sender_email or "unknown sender"
    drafts = (
        draft_for(
            person,
            ticket,
            kind,
            partial(wording, ticket, sender),
            body=f"From {sender}",
            data={"message_id": str(added.message_id)},
        )
        for person in chosen
    )
    return [d for d in drafts if d is not None]
