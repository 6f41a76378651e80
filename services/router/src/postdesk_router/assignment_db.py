"""Assignment against the database: new tickets' owners and the unanswered-ticket scanner.

Invariants:
- Choices that depend on shared state (round-robin pointer, open-ticket
  counts) are made with the department row locked (`SELECT ... FOR NO KEY UPDATE`)
  in the caller's transaction, and the counts are read after the lock: two
  router replicas assigning in one department take turns, each seeing the
  other's committed pick.
- The scanner claims tickets with `FOR UPDATE SKIP LOCKED`, so each due
  ticket is handled by one replica; it takes department locks in department
  order, so two scanners never wait on each other's departments crosswise.
- A ticket is reassigned at most once per unanswered customer message:
  `reassigned_at` is set whether or not someone else could take it, and only
  a newer customer message makes it due again. The ticket.assigned event id
  derives from the ticket and that message's time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from postdesk_contracts import EventType, TicketAssigned, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import Sessions, outbox_row
from postdesk_schema import Department, EmailAssignment, Ticket, TicketHistory, User
from sqlalchemy import Select, bindparam, func, select, text, update
from sqlalchemy.engine import Result, Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_router.assignment import Strategy, choose_by_strategy, label, strategy_of
from postdesk_router.domain import AssigneeChoice, AssignmentCandidate, AssignmentRule

SERVICE = "router"
OPEN_STATUSES = ("open", "pending")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DepartmentRouting:
    strategy: Strategy
    round_robin_last: uuid.UUID | None = None


# The statements of every new ticket are built once (building them per call cost more CPU
# than running them).
_MEMBERS: Select[Any] = (
    select(
        col(EmailAssignment.user_id),
        col(EmailAssignment.role),
        col(EmailAssignment.priority),
        col(EmailAssignment.is_active).label("assignment_active"),
        col(User.is_active).label("user_active"),
        col(User.full_name),
        col(User.timezone),
        col(User.working_hours),
    )
    .join(User, col(User.id) == col(EmailAssignment.user_id))
    .where(col(EmailAssignment.account_id) == bindparam("account_id"))
    .order_by(col(EmailAssignment.created_at), col(EmailAssignment.id))
)
_DEPARTMENT_STRATEGY = select(col(Department.routing_strategy)).where(
    col(Department.id) == bindparam("department_id")
)
_DEPARTMENT_LOCKED = (
    select(col(Department.routing_strategy), col(Department.round_robin_last_user_id))
    .where(col(Department.id) == bindparam("department_id"))
    # not FOR UPDATE: that also waits for every transaction that inserted a row referring
    # to the department (a foreign key's KEY SHARE lock), the gateway's included
    .with_for_update(key_share=True)
)
_MOVE_ROUND_ROBIN = (
    update(Department)
    .where(col(Department.id) == bindparam("department_id"))
    .values(round_robin_last_user_id=bindparam("user_id"))
)


async def assignment_members(
    session: AsyncSession, account_id: uuid.UUID
) -> list[AssignmentCandidate]:
    """Every assignment of the account with its user's state and hours, oldest first."""
    rows: Result[Any] = await session.execute(_MEMBERS, {"account_id": account_id})
    return [
        AssignmentCandidate(
            user_id=row.user_id,
            role=str(row.role),
            priority=row.priority,
            assignment_active=row.assignment_active,
            user_active=row.user_active,
            name=row.full_name,
            timezone=row.timezone,
            working_hours=row.working_hours if row.working_hours is not None else {},
        )
        for row in rows
    ]


async def department_routing(
    session: AsyncSession, department_id: uuid.UUID | None
) -> DepartmentRouting:
    """The department's strategy; for strategies that need it, the row is locked until commit
    and the round-robin pointer read under the lock."""
    if department_id is None:
        return DepartmentRouting(Strategy.PRIMARY)
    department = {"department_id": department_id}
    value = (await session.execute(_DEPARTMENT_STRATEGY, department)).scalar_one_or_none()
    if not strategy_of(value).locks_department:
        return DepartmentRouting(strategy_of(value))
    row = (await session.execute(_DEPARTMENT_LOCKED, department)).one()
    return DepartmentRouting(strategy_of(row.routing_strategy), row.round_robin_last_user_id)


async def open_ticket_counts(
    session: AsyncSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many open or pending tickets of the tenant each user is assigned (absent: none)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(col(Ticket.assignee_id), func.count().label("open_tickets"))
        .where(
            col(Ticket.tenant_id) == tenant_id,
            col(Ticket.assignee_id).in_(list(user_ids)),
            col(Ticket.status).in_(OPEN_STATUSES),
        )
        .group_by(col(Ticket.assignee_id))
    )
    return {row.assignee_id: int(row.open_tickets) for row in rows if row.assignee_id is not None}


async def choose_for_account(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    candidates: Sequence[AssignmentCandidate],
    department_id: uuid.UUID | None,
    now: datetime,
    current_assignee: uuid.UUID | None = None,
    outside_hours_fallback: bool = True,
) -> AssigneeChoice | None:
    """Choose by the department's strategy inside the caller's transaction; a round-robin
    pick moves the department's pointer."""
    routing = await department_routing(session, department_id)
    counts = None
    if routing.strategy is Strategy.LEAST_OPEN:
        counts = await open_ticket_counts(session, tenant_id, [c.user_id for c in candidates])
    choice = choose_by_strategy(
        routing.strategy,
        candidates,
        now,
        round_robin_last=routing.round_robin_last,
        open_counts=counts,
        current_assignee=current_assignee,
        outside_hours_fallback=outside_hours_fallback,
    )
    if choice is not None and routing.strategy is Strategy.ROUND_ROBIN:
        await session.execute(
            _MOVE_ROUND_ROBIN, {"department_id": department_id, "user_id": choice.user_id}
        )
    return choice


async def assign_new_ticket(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    department_id: uuid.UUID | None,
    now: datetime,
) -> AssigneeChoice | None:
    """The owner of a new ticket of the account, inside the caller's transaction (which keeps
    the department row locked until it ends, for round_robin and least_open); None when
    nobody active holds the account."""
    candidates = await assignment_members(session, account_id)
    return await choose_for_account(
        session,
        tenant_id=tenant_id,
        candidates=candidates,
        department_id=department_id,
        now=now,
    )


_DUE_UNANSWERED = text(
    """
    SELECT t.id, t.tenant_id, t.account_id, t.department_id, t.assignee_id,
           COALESCE(t.last_customer_message_at, t.created_at) AS waiting_since
      FROM tickets t
      JOIN email_accounts a ON a.id = t.account_id
     WHERE a.reassign_after_minutes IS NOT NULL
       AND a.is_active
       AND t.status = 'open'
       AND t.assignee_id IS NOT NULL
       AND t.merged_into_id IS NULL
       AND COALESCE(t.last_customer_message_at, t.created_at)
           <= CAST(:now AS timestamptz) - make_interval(mins => a.reassign_after_minutes)
       AND (t.last_agent_reply_at IS NULL
            OR t.last_agent_reply_at < COALESCE(t.last_customer_message_at, t.created_at))
       AND (t.reassigned_at IS NULL
            OR t.reassigned_at < COALESCE(t.last_customer_message_at, t.created_at))
     ORDER BY waiting_since, t.id
     LIMIT :batch
     FOR UPDATE OF t SKIP LOCKED
    """
)


async def reassign_unanswered(
    sessions: Sessions, *, now: datetime | None = None, batch: int = 100
) -> int:
    """Reassign up to `batch` open tickets whose customer has waited past the account's
    reassign_after_minutes without an answer; returns how many were reassigned.

    Only someone other than the current assignee who is within working hours
    takes the ticket (moving it to someone off work answers nobody sooner);
    when nobody is, the ticket stays and is marked so it waits for the next
    customer message.
    """
    at = now or datetime.now(UTC)
    async with sessions() as session, session.begin():
        rows = (await session.execute(_DUE_UNANSWERED, {"now": at, "batch": batch})).all()
        reassigned = 0
        for row in sorted(rows, key=lambda r: (str(r.department_id or ""), r.waiting_since)):
            reassigned += await _reassign(session, row, at)
    if rows:
        log.info("unanswered tickets scanned", due=len(rows), reassigned=reassigned)
    return reassigned


async def _reassign(session: AsyncSession, row: Row[Any], at: datetime) -> int:
    """Reassign one claimed ticket (1) or record why it stays (0)."""
    candidates = await assignment_members(session, row.account_id)
    names = {c.user_id: label(c) for c in candidates}
    previous = names.get(row.assignee_id, str(row.assignee_id))
    waited = f"unanswered for {int((at - row.waiting_since).total_seconds() // 60)} minutes"
    choice = await choose_for_account(
        session,
        tenant_id=row.tenant_id,
        candidates=candidates,
        department_id=row.department_id,
        now=at,
        current_assignee=row.assignee_id,
        outside_hours_fallback=False,
    )
    rule = AssignmentRule.UNANSWERED_REASSIGN
    if choice is None:
        await session.execute(
            update(Ticket).where(col(Ticket.id) == row.id).values(reassigned_at=at)
        )
        session.add(
            TicketHistory(
                tenant_id=row.tenant_id,
                ticket_id=row.id,
                kind="reassign_skipped",
                rule=rule,
                detail=f"{waited}; nobody else available to take it; stays with {previous}",
                created_at=at,
            )
        )
        return 0
    reason = f"{waited}; {choice.reason}"
    envelope = new_envelope(
        EventType.TICKET_ASSIGNED,
        TicketAssigned(
            ticket_id=row.id,
            account_id=row.account_id,
            assignee_id=choice.user_id,
            previous_assignee_id=row.assignee_id,
            rule=rule,
            reason=reason,
        ),
        tenant_id=row.tenant_id,
        event_id=derived_event_id(row.id, f"reassign:{row.waiting_since.isoformat()}"),
    )
    await session.execute(
        update(Ticket)
        .where(col(Ticket.id) == row.id)
        .values(assignee_id=choice.user_id, assignment_rule=rule, reassigned_at=at, updated_at=at)
    )
    session.add(
        TicketHistory(
            tenant_id=row.tenant_id,
            ticket_id=row.id,
            kind="assigned",
            rule=rule,
            detail=f"from {previous} to {names.get(choice.user_id)} ({choice.rule}): {reason}",
            event_id=envelope.id,
            created_at=at,
        )
    )
    session.add(outbox_row(SERVICE, envelope))
    await session.flush()
    return 1
