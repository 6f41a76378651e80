"""Reading a ticket's thread and rebuilding it from its messages.

A thread is the ticket's messages and the replies between them (In-Reply-To,
then the last of References). Rebuilding does what the router does as mail
arrives, once more, for a ticket whose thread came apart: after a crash in an
old version, a restore, a re-parse that recovered lost threading headers, or
a manual repair.

- Replies left on tickets of their own are merged in, under the router's
  rules (`postdesk_router.merge`): early replies (stored before the message
  they answer) the router did not join, and replies that matched nothing
  when they came (their threading headers lost, then recovered by
  `postdesk reparse`); only from participants, others are linked. Tickets
  opened after the message they name and linked to a ticket on purpose
  (follow-ups of a closed ticket, strangers' replies) stay apart.
- The ticket's message count and last-message time are counted again from
  the messages it holds.

The change is one transaction: a ticket_history row "thread_rebuilt",
ticket.updated events for every ticket merged in (through the router's
outbox, published by a running router), and a notice to the gateways'
live streams.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from postdesk_contracts import EventType, TicketChange, TicketUpdated, new_envelope
from postdesk_router import db as router_db
from postdesk_router import merge_db
from postdesk_router.merge import absorb_early_replies
from postdesk_router.merge_db import TicketRef
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import Message, Tenant, Ticket, TicketStatus
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

ROUTER = "router"  # the outbox rows are the router's: its relay publishes them
RULE = "thread-rebuild"


@dataclass(frozen=True)
class ThreadMessage:
    id: uuid.UUID
    message_id_header: str
    direction: str
    from_email: str
    subject: str
    at: datetime
    parent: str | None
    match_rule: str


@dataclass
class Rebuilt:
    ticket_id: uuid.UUID
    number: int
    merged: list[TicketRef] = field(default_factory=list)
    message_count: tuple[int, int] = (0, 0)


async def find_ticket(session: AsyncSession, reference: str) -> Ticket:
    """A ticket by id, or by `TENANT-SLUG:NUMBER`; LookupError if there is none."""
    slug, _, number = reference.rpartition(":")
    if slug and number.isdigit():
        ticket = await session.scalar(
            select(Ticket)
            .join(Tenant, col(Tenant.id) == col(Ticket.tenant_id))
            .where(col(Tenant.slug) == slug, col(Ticket.number) == int(number))
        )
    else:
        try:
            ticket_id = uuid.UUID(reference)
        except ValueError:
            raise LookupError(
                f"{reference!r} is neither a ticket id nor TENANT-SLUG:NUMBER"
            ) from None
        ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {reference}")
    return ticket


async def thread_of(session: AsyncSession, ticket_id: uuid.UUID) -> list[ThreadMessage]:
    """The ticket's messages in the order they were stored, each with the one it answers
    when that is on the ticket too."""
    rows = (
        await session.execute(
            select(
                col(Message.id),
                col(Message.message_id_header),
                col(Message.direction),
                col(Message.from_email),
                col(Message.subject),
                func.coalesce(col(Message.received_at), col(Message.created_at)).label("at"),
                col(Message.in_reply_to),
                col(Message.references),
                col(Message.match_rule),
            )
            .where(col(Message.ticket_id) == ticket_id)
            .order_by(col(Message.created_at), col(Message.id))
        )
    ).all()
    here = {bare_message_id(row.message_id_header) for row in rows}
    return [
        ThreadMessage(
            id=row.id,
            message_id_header=row.message_id_header,
            direction=row.direction,
            from_email=row.from_email,
            subject=row.subject,
            at=row.at,
            parent=_parent(row.in_reply_to, row.references, here),
            match_rule=row.match_rule,
        )
        for row in rows
    ]


def _parent(in_reply_to: list[str], references: list[str], here: set[str]) -> str | None:
    for candidate in [*in_reply_to, *reversed(references)]:
        if bare_message_id(candidate) in here:
            return bare_message_id(candidate)
    return None


def bare_message_id(message_id: str) -> str:
    return message_id.strip().strip("<>")


async def rebuild(session: AsyncSession, ticket: Ticket, *, dry_run: bool = False) -> Rebuilt:
    """Rebuild `ticket`'s thread in the caller's transaction (rolled back by the caller for a
    dry run). A merged ticket is rebuilt where it was merged into."""
    survivor = await merge_db.live_ticket(session, ticket.id)  # locks it
    current = await session.get(Ticket, survivor, populate_existing=True)
    assert current is not None
    done = Rebuilt(ticket_id=current.id, number=current.number)
    counted_before = current.message_count
    stored = (
        await session.execute(
            select(col(Message.message_id_header), col(Message.created_at))
            .where(col(Message.ticket_id) == survivor)
            .order_by(col(Message.created_at))
        )
    ).all()
    for row in stored:
        done.merged += await absorb_early_replies(
            session,
            current.tenant_id,
            bare_message_id(row.message_id_header),
            survivor,
            opened_before=row.created_at,
        )
    count, latest = (
        await session.execute(
            select(
                func.count(),
                func.max(func.coalesce(col(Message.received_at), col(Message.created_at))),
            ).where(col(Message.ticket_id) == survivor)
        )
    ).one()
    done.message_count = (counted_before, int(count))
    if latest is not None:
        await session.execute(
            update(Ticket)
            .where(col(Ticket.id) == survivor)
            .values(message_count=int(count), last_message_at=latest)
        )
    if not dry_run:
        _record(session, current, done)
        await router_db.notify_ticket_changed(
            session, current.tenant_id, survivor, "thread_rebuilt"
        )
    return done


def _record(session: AsyncSession, ticket: Ticket, done: Rebuilt) -> None:
    detail = (
        f"merged in {', '.join(f'#{t.number}' for t in done.merged) or 'nothing'}; "
        f"message count {done.message_count[0]} -> {done.message_count[1]}"
    )
    router_db.history(
        session,
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        kind="thread_rebuilt",
        rule=RULE,
        detail=detail,
    )
    for merged in done.merged:
        event = new_envelope(
            EventType.TICKET_UPDATED,
            TicketUpdated(
                ticket_id=merged.id,
                account_id=merged.account_id or ticket.account_id,
                changes=[
                    TicketChange(field="merged_into_id", old=None, new=str(ticket.id)),
                    TicketChange(field="status", old=None, new=str(TicketStatus.CLOSED)),
                ],
                rule=RULE,
                reason=f"its messages reply to messages of ticket {ticket.id} (thread rebuilt)",
            ),
            tenant_id=ticket.tenant_id,
        )
        session.add(outbox_row(ROUTER, event))
