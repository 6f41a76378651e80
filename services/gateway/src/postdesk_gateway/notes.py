"""Internal notes on a ticket: agents write to each other, and @mention whom to tell.

Whoever can see the ticket reads its notes (audit-logged, like its mail).
Writing one takes an active assignment on the ticket's mailbox other than
viewer (a viewer is read-only), or tenant admin: a note sends nothing to
the customer, so the send right is not needed. The mentions are resolved
and judged by `mentions.resolve` before anything is written; the note, its
history row, its audit row and ticket.note_added (naming the mentioned
users, the author included if they named themselves: the notifier skips
the author) commit in one transaction, then the relay is woken.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from postdesk_contracts import EventType, TicketNoteAdded, new_envelope
from postdesk_contracts.api import NoteList, NoteRequest, NoteView
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import AssignmentRole, Ticket, TicketHistory, TicketNote
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, mentions, notify_db, ticket_live, views
from postdesk_gateway.domain import CurrentUser, ForbiddenError, NotFoundError
from postdesk_gateway.service import AGENT_RULE, SERVICE

EXCERPT_CHARS = 200
log = structlog.get_logger(__name__)


async def _visible_ticket(session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID) -> Ticket:
    ticket = await db.get_visible_ticket(session, user, ticket_id)
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


async def _require_note_right(session: AsyncSession, user: CurrentUser, ticket: Ticket) -> None:
    if user.is_admin:
        return
    assignment = await db.active_assignment(session, user, ticket.account_id)
    if assignment is None or assignment.role == AssignmentRole.VIEWER:
        raise ForbiddenError("viewers may read notes but not write them")


async def list_notes(
    session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID, *, ip: str
) -> NoteList:
    """The ticket's notes, oldest first; audit-logged like a read of the ticket."""
    ticket = await _visible_ticket(session, user, ticket_id)
    notes = NoteList(
        items=[views.note_view(n) for n in await notify_db.ticket_notes(session, ticket)]
    )
    db.audit(
        session, user, action="ticket.notes_read", object_type="ticket", object_id=ticket.id, ip=ip
    )
    await session.commit()
    return notes


async def add_note(
    session: AsyncSession,
    user: CurrentUser,
    ticket_id: uuid.UUID,
    request: NoteRequest,
    *,
    ip: str,
    wake_relay: Callable[[], None],
    now: datetime | None = None,
) -> NoteView:
    """Write a note: 404 for a ticket the user cannot see, 403 for a viewer, 422 for a
    mention that cannot be notified (several users, deactivated, cannot see the ticket)."""
    now = now or datetime.now(UTC)
    ticket = await _visible_ticket(session, user, ticket_id)
    await _require_note_right(session, user, ticket)
    handles = mentions.find_handles(request.body)
    mentioned = mentions.resolve(
        handles, await notify_db.mention_candidates(session, ticket, handles)
    )
    note = TicketNote(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        author_id=user.id,
        body=request.body,
        mentioned_user_ids=[str(u) for u in mentioned],
        created_at=now,
    )
    envelope = new_envelope(
        EventType.TICKET_NOTE_ADDED,
        TicketNoteAdded(
            ticket_id=ticket.id,
            account_id=ticket.account_id,
            note_id=note.id,
            author_id=user.id,
            mentioned_user_ids=mentioned,
            excerpt=request.body[:EXCERPT_CHARS],
        ),
        tenant_id=user.tenant_id,
        event_id=derived_event_id(note.id, EventType.TICKET_NOTE_ADDED.value),
    )
    session.add(note)
    await session.flush()  # the note before the rows that name it
    session.add(outbox_row(SERVICE, envelope))
    session.add(
        TicketHistory(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.id,
            kind="note",
            rule=AGENT_RULE,
            detail=_history_detail(len(mentioned)),
            actor_user_id=user.id,
            event_id=envelope.id,
            created_at=now,
        )
    )
    db.audit(
        session,
        user,
        action="ticket.note_added",
        object_type="ticket",
        object_id=ticket.id,
        ip=ip,
        detail={
            "note_id": str(note.id),
            "event_id": str(envelope.id),
            "mentioned_user_ids": note.mentioned_user_ids,
        },
    )
    view = views.note_view(note)
    await ticket_live.notify_ticket_changed(session, ticket, "note_added")
    await session.commit()
    wake_relay()
    log.info("note added", ticket_id=str(ticket.id), note_id=str(note.id), mentions=len(mentioned))
    return view


def _history_detail(mention_count: int) -> str:
    if mention_count == 0:
        return "internal note"
    return f"internal note mentioning {mention_count} user{'s' if mention_count > 1 else ''}"
