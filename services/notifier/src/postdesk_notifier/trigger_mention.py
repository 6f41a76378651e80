"""An @mention in an internal note (ticket.note_added): the mentioned users, as drafts.

The gateway refuses mentions of users who cannot see the ticket; the notifier
checks again on its own data (`recipients.mention_recipients`), so a user
whose access went away between the note and this event hears nothing.
"""

from __future__ import annotations

from functools import partial

import structlog
from postdesk_contracts import Envelope, TicketNoteAdded
from postdesk_contracts.notify_prefs import NotificationKind
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier import recipients_db, titles
from postdesk_notifier.domain import NotificationDraft, Skipped, draft_for, skip_foreign_tenant
from postdesk_notifier.recipients import mention_recipients

log = structlog.get_logger(__name__)


async def plan_mention(
    session: AsyncSession, event: Envelope[TicketNoteAdded]
) -> list[NotificationDraft] | Skipped:
    note = event.payload
    if not note.mentioned_user_ids:
        return Skipped("the note mentions nobody")
    ticket = await recipients_db.require_ticket(session, note.ticket_id)
    if (skipped := skip_foreign_tenant(event.tenant_id, ticket)) is not None:
        return skipped
    people = await recipients_db.people(
        session, ticket.tenant_id, [*note.mentioned_user_ids, note.author_id]
    )
    chosen = mention_recipients(
        mentioned=note.mentioned_user_ids,
        author_id=note.author_id,
        people=people,
        # only the mentioned users' assignments matter (whether they can see the ticket)
        handlers=await recipients_db.account_handlers(
            session, ticket.tenant_id, ticket.account_id, user_ids=note.mentioned_user_ids
        ),
    )
    left_out = set(note.mentioned_user_ids) - {p.id for p in chosen} - {note.author_id}
    if left_out:
        log.info(
            "mentioned users not notified (unknown, inactive, cannot see the ticket, "
            "or mentions switched off)",
            user_ids=sorted(str(u) for u in left_out),
            ticket_id=str(ticket.id),
        )
    author = people.get(note.author_id)
    author_name = author.label if author is not None else "Someone"
    drafts = (
        draft_for(
            person,
            ticket,
            NotificationKind.MENTION,
            partial(titles.mention, ticket, author_name),
            body=note.excerpt,
            actor_id=note.author_id,
            data={"note_id": str(note.note_id)},
        )
        for person in chosen
    )
    return [d for d in drafts if d is not None]
