"""Full-text search of the inbox: which plan finds a page of matching tickets fastest.

The ticket matches when its own vector or any of its messages' matches the query
(`websearch_to_tsquery('simple', q)`). No one plan suits every term (ADR 11,
measured on a million tickets with bench/gateway.py):
- ids: the matching tickets' ids straight from the GIN indexes, few and exact,
  then the list's filters and order over those. Right when the term is rare in
  the tenant (an order number), or, for a member, rare among their mailboxes'
  messages (the account index and the GIN index meet in one bitmap).
- walk: the list's own order, checking each ticket's messages as it goes, so a
  page stops after its first matches. Right for a common term.
A capped count and, for a member, the planner's estimate choose.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from postdesk_schema import EmailAssignment, Message, Ticket
from sqlalchemy import ColumnElement, Select, exists, func, literal, or_, text, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway.domain import CurrentUser

# Below this many matching messages in the tenant, a term is rare: take the ids.
RARE_TERM_MESSAGES = 200
# Below this many (estimated) among a member's mailboxes' messages, take their ids.
NARROW_TERM_MESSAGES = 2000


@dataclass(frozen=True)
class SearchPlan:
    q: str
    walk: bool
    # With `walk` False: the mailboxes whose ids to take; None for the whole tenant.
    accounts: tuple[uuid.UUID, ...] | None = None


def _tsquery(q: str) -> ColumnElement[Any]:
    return func.websearch_to_tsquery("simple", q)


async def _fewer_matches_than(
    session: AsyncSession, tenant_id: uuid.UUID, q: str, cap: int
) -> bool:
    """Counted, up to `cap`: a GIN read that stops early, cheap for any term."""
    matching = (
        select(literal(1))
        .where(
            col(Message.tenant_id) == tenant_id,
            col(Message.search_vector).op("@@")(_tsquery(q)),
        )
        .limit(cap)
        .subquery()
    )
    found = await session.scalar(select(func.count()).select_from(matching))
    return int(found or 0) < cap


_ESTIMATE_AMONG_ACCOUNTS = text(
    """
    EXPLAIN (FORMAT JSON)
    SELECT 1 FROM messages
    WHERE tenant_id = :tenant AND account_id = ANY(:accounts)
      AND search_vector @@ websearch_to_tsquery('simple', :q)
    """
)


async def _estimated_matches_among(
    session: AsyncSession, tenant_id: uuid.UUID, q: str, accounts: tuple[uuid.UUID, ...]
) -> float:
    """The planner's estimate (no rows read): counting exactly among a member's mailboxes
    costs the whole bitmap of a common term, hundreds of milliseconds at a million tickets."""
    plan = await session.scalar(
        _ESTIMATE_AMONG_ACCOUNTS, {"tenant": tenant_id, "accounts": list(accounts), "q": q}
    )
    document = json.loads(plan) if isinstance(plan, str) else plan
    return float(document[0]["Plan"]["Plan Rows"])


async def _assigned_accounts(session: AsyncSession, user: CurrentUser) -> tuple[uuid.UUID, ...]:
    rows = await session.scalars(
        select(col(EmailAssignment.account_id)).where(
            col(EmailAssignment.user_id) == user.id,
            col(EmailAssignment.tenant_id) == user.tenant_id,
            col(EmailAssignment.is_active).is_(True),
        )
    )
    return tuple(rows.all())


async def plan_search(session: AsyncSession, user: CurrentUser, q: str) -> SearchPlan:
    if await _fewer_matches_than(session, user.tenant_id, q, RARE_TERM_MESSAGES):
        return SearchPlan(q, walk=False)
    if user.is_admin:
        return SearchPlan(q, walk=True)
    accounts = await _assigned_accounts(session, user)
    if await _estimated_matches_among(session, user.tenant_id, q, accounts) < NARROW_TERM_MESSAGES:
        return SearchPlan(q, walk=False, accounts=accounts)
    return SearchPlan(q, walk=True)


def search_condition(user: CurrentUser, plan: SearchPlan) -> ColumnElement[bool]:
    """The WHERE condition of `plan` (the caller adds visibility and the other filters).

    Taking the ids of a member's mailboxes reads messages by their own mailbox: a message
    merged over from a mailbox the member cannot see is not found that way.
    """
    query = _tsquery(plan.q)
    in_ticket = col(Ticket.search_vector).op("@@")(query)
    if plan.walk:
        # OFFSET 0 keeps the check per ticket instead of collecting every match first.
        in_messages = exists(
            select(literal(1))
            .where(
                col(Message.ticket_id) == col(Ticket.id),
                col(Message.tenant_id) == col(Ticket.tenant_id),
                col(Message.search_vector).op("@@")(query),
            )
            .offset(0)
        )
        return or_(in_ticket, in_messages)
    message_hits: Select[tuple[uuid.UUID]] = select(
        col(Message.ticket_id).label("ticket_id")
    ).where(col(Message.tenant_id) == user.tenant_id, col(Message.search_vector).op("@@")(query))
    ticket_hits: Select[tuple[uuid.UUID]] = select(col(Ticket.id).label("ticket_id")).where(
        col(Ticket.tenant_id) == user.tenant_id, in_ticket
    )
    if plan.accounts is not None:
        message_hits = message_hits.where(col(Message.account_id).in_(plan.accounts))
        ticket_hits = ticket_hits.where(col(Ticket.account_id).in_(plan.accounts))
    # Materialised, so the planner hashes the few ids instead of re-running the index
    # reads for every ticket it considers.
    hits = union(message_hits, ticket_hits).cte("search_hits").prefix_with("MATERIALIZED")
    return col(Ticket.id).in_(select(hits.c.ticket_id))


__all__ = [
    "NARROW_TERM_MESSAGES",
    "RARE_TERM_MESSAGES",
    "SearchPlan",
    "plan_search",
    "search_condition",
]
