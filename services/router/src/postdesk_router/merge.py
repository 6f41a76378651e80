"""Out-of-order threading: a reply stored before its parent is joined to it when the parent comes.

A reply whose In-Reply-To/References match nothing stored opens a
provisional ticket and keeps the Message-IDs it names (messages.in_reply_to
and messages.references). Whenever a message is stored, the tickets of the
stored messages that name it are merged into the ticket of its thread:
their messages move there, and each absorbed ticket stays as history,
closed, with merged_into_id pointing at the survivor. The survivor is the
ticket of the message being stored (the parent's side, which carries the
thread's original subject and customer); the absorbed tickets go oldest
first.

Only tickets whose customer (the sender who opened the provisional ticket)
is a participant of the survivor are absorbed (see domain.may_join): the
others stay apart, linked to the survivor, as if they had arrived after the
parent. They are considered again whenever another message they name is
stored, so a reply from someone Cc'd on an ancestor not stored yet still
joins once that ancestor arrives.

Every move takes a whole ticket, so two messages once on one ticket stay
together; with each reply joining its parent when the parent is stored
first, and the parent absorbing the reply when the reply is first, a whole
thread ends on one ticket whatever the arrival order. `db.lock_message_ids`
serialises a parent and a reply naming it across router replicas.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_router import db, merge_db
from postdesk_router.domain import MatchRule, may_join
from postdesk_router.merge_db import TicketRef

MAX_ROUNDS = 8

log = structlog.get_logger(__name__)


async def absorb_early_replies(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    message_id: str,
    survivor: uuid.UUID,
    *,
    opened_before: datetime | None = None,
) -> list[TicketRef]:
    """Merge into `survivor` every other ticket holding a message that names `message_id`
    (with `opened_before`, the time `message_id` was stored: not the tickets opened after it
    and linked on purpose, such as follow-ups of a closed ticket; see merge_db.tickets_naming).

    `survivor` must be locked by this transaction (or new in it). Returns
    the absorbed tickets; those whose customer may not join `survivor` are
    linked to it instead. Repeats the search after locking, so tickets that
    a concurrent merge moved the naming messages to are absorbed too.
    """
    merged: list[TicketRef] = []
    refused: set[uuid.UUID] = set()
    for _ in range(MAX_ROUNDS):
        found = await merge_db.tickets_naming(
            session, tenant_id, message_id, survivor, opened_before=opened_before
        )
        found = [t for t in found if t not in refused]
        if not found:
            return merged
        locked = await merge_db.lock_live_tickets(session, found)
        participants = await db.participants_among(
            session, tenant_id, survivor, [t.customer_email for t in locked]
        )
        # the early reply matched `message_id` by its threading headers
        tickets = [
            t for t in locked if may_join(t.customer_email, participants, MatchRule.IN_REPLY_TO)
        ]
        strangers = [t for t in locked if t not in tickets]
        if strangers:
            refused.update(t.id for t in strangers)
            await merge_db.link(session, survivor, [t.id for t in strangers])
            log.info(
                "early replies from non-participants left apart, linked",
                survivor=str(survivor),
                linked=[str(t.id) for t in strangers],
            )
        if tickets:
            moved = await merge_db.absorb(session, survivor, [t.id for t in tickets])
            merged.extend(tickets)
            # no ticket.merged/ticket.updated contract yet: the merge is logged, not announced
            log.info(
                "early replies merged into their parent's ticket",
                survivor=str(survivor),
                absorbed=[str(t.id) for t in tickets],
                absorbed_numbers=[t.number for t in tickets],
                moved_messages=moved,
            )
    raise RuntimeError(f"merging replies of {message_id!r} did not settle in {MAX_ROUNDS} rounds")
