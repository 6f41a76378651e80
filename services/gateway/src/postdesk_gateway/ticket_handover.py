"""Handing over a leaving user's open tickets when an admin deactivates them.

Open means status open or pending, not deleted: resolved and closed tickets
keep their assignee (history). Each ticket changes exactly as a manual
reassignment does (`inbox_actions.record_assignee_change`): its history row,
its audit row and its event (ticket.assigned to the new assignee,
ticket.updated for an unassignment) through the outbox, so the notifier and
webhooks hear of every one. All of it joins the caller's transaction, the
deactivation's, and is committed (or rolled back) with it.

Invariants:
- All or nothing: a reassignment the rule refuses on any of the tickets
  (`inbox_db.assignee_accounts`, the PATCH /tickets rule) refuses the whole
  request with a 422 naming those tickets, before any ticket changes.
- Bounded: the mailboxes are judged in one query, the tickets are locked and
  changed `BATCH` at a time (one flush and one notify statement per batch),
  never one round trip per ticket.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from postdesk_contracts.api_admin import OpenTicketsChoice
from postdesk_schema import Ticket, TicketStatus, User
from sqlalchemy import ColumnElement, and_, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway import inbox_db, ticket_live
from postdesk_gateway.domain import CurrentUser, UnprocessableError
from postdesk_gateway.inbox_actions import record_assignee_change

BATCH: Final = 500
NAMED_REFUSALS: Final = 20
OPEN_STATUSES: Final = (TicketStatus.OPEN, TicketStatus.PENDING)
REASON: Final = "the previous assignee was deactivated"


def _open_tickets_of(leaver: User) -> ColumnElement[bool]:
    return and_(
        col(Ticket.tenant_id) == leaver.tenant_id,
        col(Ticket.assignee_id) == leaver.id,
        col(Ticket.status).in_(OPEN_STATUSES),
        col(Ticket.deleted_at).is_(None),
    )


async def _checked_target(session: AsyncSession, leaver: User, target_id: uuid.UUID) -> User:
    """The new assignee, locked against a concurrent deactivation (FOR SHARE); 422 unless
    an active user of the leaver's tenant other than the leaver (another tenant's user is
    answered as one that does not exist)."""
    if target_id == leaver.id:
        raise UnprocessableError("reassign_to cannot be the user being deactivated")
    query = select(User).where(col(User.id) == target_id, col(User.tenant_id) == leaver.tenant_id)
    target = (await session.scalars(query.with_for_update(read=True))).one_or_none()
    if target is None or not target.is_active:
        raise UnprocessableError("reassign_to must be an active user of your tenant")
    return target


async def _fit_mailboxes(session: AsyncSession, leaver: User, target: User) -> set[uuid.UUID]:
    """The mailboxes of the leaver's open tickets, all of which `target` may be assignee
    on; else 422 naming the open tickets whose mailbox `target` may not be assignee of."""
    accounts = set(
        (
            await session.scalars(
                select(col(Ticket.account_id)).where(_open_tickets_of(leaver)).distinct()
            )
        ).all()
    )
    fit = await inbox_db.assignee_accounts(session, leaver.tenant_id, target.id, accounts)
    unfit = accounts - fit
    if not unfit:
        return fit
    refused = and_(_open_tickets_of(leaver), col(Ticket.account_id).in_(unfit))
    count = await session.scalar(select(func.count()).select_from(Ticket).where(refused)) or 0
    numbers = (
        await session.scalars(
            select(col(Ticket.number))
            .where(refused)
            .order_by(col(Ticket.number))
            .limit(NAMED_REFUSALS)
        )
    ).all()
    named = ", ".join(f"#{n}" for n in numbers)
    more = f" and {count - len(numbers)} more" if count > len(numbers) else ""
    raise UnprocessableError(
        f"{target.full_name} may not be assignee of {count} of the open tickets "
        f"(no active, non-viewer assignment on their mailbox): {named}{more}; give them an "
        "assignment there or choose unassign; nothing was changed"
    )


async def hand_over_open_tickets(
    session: AsyncSession,
    user: CurrentUser,
    leaver: User,
    choice: OpenTicketsChoice,
    target_id: uuid.UUID | None,
    *,
    ip: str,
    now: datetime,
) -> int:
    """Reassign (to `target_id`) or unassign every open ticket of `leaver`, in the session;
    `keep` changes nothing. The number of tickets changed; 422 (nothing changed) for an
    unfit target. The caller holds `leaver` locked, commits and wakes the relay."""
    if choice == "keep":
        return 0
    new_assignee = None
    batch_query = select(Ticket).where(_open_tickets_of(leaver))
    if choice == "reassign":
        if target_id is None:
            raise UnprocessableError("reassign_to is required with open_tickets=reassign")
        target = await _checked_target(session, leaver, target_id)
        fit = await _fit_mailboxes(session, leaver, target)
        new_assignee = target.id
        # a ticket the router gives the (still active) leaver meanwhile, on another
        # mailbox, stays theirs rather than going to someone who may not work it
        batch_query = batch_query.where(col(Ticket.account_id).in_(list(fit)))
    changed = 0
    batch_query = batch_query.order_by(col(Ticket.id)).limit(BATCH).with_for_update()
    while batch := list((await session.scalars(batch_query)).all()):
        for ticket in batch:
            record_assignee_change(
                session, user, ticket, new_assignee, reason=REASON, ip=ip, now=now
            )
        await ticket_live.notify_tickets_changed(
            session, leaver.tenant_id, [t.id for t in batch], "updated"
        )
        await session.flush()  # the batch no longer matches: the next query finds the rest
        changed += len(batch)
    return changed
