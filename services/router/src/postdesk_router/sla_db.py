"""SLA clocks of tickets, driven by ticket events. Every function runs in the caller's
transaction and is idempotent: called again for the same thing it changes nothing.

One sla_timers row per ticket and target (unique). States:
- running: the scanner (sla_scan) warns and breaches it when due;
- paused: the ticket is pending on the customer; `remaining_seconds` holds the
  time left in the policy's time (negative when overdue);
- stopped: done. A first-response timer stops at the first agent reply. Every
  timer stops when the ticket is resolved or closed, keeping `remaining_seconds`
  so a reopened ticket carries on where it stopped. A timer whose target the
  ticket's policy no longer sets is dropped: stopped with no remaining time.
`warned_at` and `breached_at` are never cleared: a warning or breach happens at
most once per ticket and target, whatever the clock does afterwards.

Timer rows are read `FOR UPDATE` before they are changed, so these functions
wait for a scanner holding them (its transaction is short) and never
interleave with one.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postdesk_contracts import SlaTarget
from postdesk_schema import SlaPolicy, SlaTimer, Ticket, TicketStatus
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_router.sla import (
    SLA_TARGETS,
    Deadlines,
    Policy,
    choose_policy,
    deadlines_after,
    deadlines_from,
    elapsed_minutes,
    remaining_seconds,
)

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
ACTIVE = frozenset({TicketStatus.OPEN.value, TicketStatus.PENDING.value})
DONE = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})


@dataclass(frozen=True)
class _TicketState:
    tenant_id: uuid.UUID
    account_id: uuid.UUID
    department_id: uuid.UUID | None
    status: str
    created_at: datetime
    first_responded_at: datetime | None


@dataclass(frozen=True)
class _Timer:
    id: uuid.UUID
    policy_id: uuid.UUID
    target: SlaTarget
    state: str
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    paused_at: datetime | None
    remaining_seconds: float | None

    @property
    def deadlines(self) -> Deadlines:
        return Deadlines(self.due_at, self.warn_at)


def _policy(row: SlaPolicy) -> Policy:
    return Policy(
        id=row.id,
        account_id=row.account_id,
        department_id=row.department_id,
        priority=row.priority,
        first_response_minutes=row.first_response_minutes,
        resolution_minutes=row.resolution_minutes,
        business_hours=row.business_hours,
        timezone=row.timezone,
        working_hours=row.working_hours,
        holidays=tuple(row.holidays),
        warning_percent=row.warning_percent,
        is_active=row.is_active,
    )


async def _candidate_policies(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID | None,
    department_id: uuid.UUID | None,
    priority: str | None,
) -> list[Policy]:
    """Active policies of the tenant that could match, oldest first."""
    rows = await session.scalars(
        _CANDIDATE_POLICIES,
        {
            "tenant_id": tenant_id,
            "account_id": account_id,
            "department_id": department_id,
            "priority": priority,
        },
    )
    return [_policy(row) for row in rows.all()]


# Built once: every new ticket runs it, and building it cost more CPU than running it.
_CANDIDATE_POLICIES = (
    select(SlaPolicy)
    .where(
        col(SlaPolicy.tenant_id) == bindparam("tenant_id"),
        col(SlaPolicy.is_active).is_(True),
        or_(
            col(SlaPolicy.account_id).is_(None),
            col(SlaPolicy.account_id) == bindparam("account_id"),
        ),
        or_(
            col(SlaPolicy.department_id).is_(None),
            col(SlaPolicy.department_id) == bindparam("department_id"),
        ),
        or_(col(SlaPolicy.priority).is_(None), col(SlaPolicy.priority) == bindparam("priority")),
    )
    .order_by(col(SlaPolicy.created_at), col(SlaPolicy.id))
)


async def _policies(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Policy]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.scalars(select(SlaPolicy).where(col(SlaPolicy.id).in_(wanted)))
    return {row.id: _policy(row) for row in rows.all()}


async def _ticket(session: AsyncSession, ticket_id: uuid.UUID) -> _TicketState:
    row = (
        await session.execute(
            select(
                col(Ticket.tenant_id),
                col(Ticket.account_id),
                col(Ticket.department_id),
                col(Ticket.status),
                col(Ticket.created_at),
                col(Ticket.first_responded_at),
            ).where(col(Ticket.id) == ticket_id)
        )
    ).one()
    return _TicketState(
        row.tenant_id,
        row.account_id,
        row.department_id,
        str(row.status),
        row.created_at,
        row.first_responded_at,
    )


async def _locked_timers(session: AsyncSession, ticket_id: uuid.UUID) -> dict[SlaTarget, _Timer]:
    rows = await session.execute(
        select(
            col(SlaTimer.id),
            col(SlaTimer.policy_id),
            col(SlaTimer.target),
            col(SlaTimer.state),
            col(SlaTimer.started_at),
            col(SlaTimer.due_at),
            col(SlaTimer.warn_at),
            col(SlaTimer.paused_at),
            col(SlaTimer.remaining_seconds),
        )
        .where(col(SlaTimer.ticket_id) == ticket_id)
        .order_by(col(SlaTimer.id))
        .with_for_update()
    )
    timers = [
        _Timer(
            id=row.id,
            policy_id=row.policy_id,
            target=SlaTarget(row.target),
            state=row.state,
            started_at=row.started_at,
            due_at=row.due_at,
            warn_at=row.warn_at,
            paused_at=row.paused_at,
            remaining_seconds=row.remaining_seconds,
        )
        for row in rows
    ]
    return {timer.target: timer for timer in timers}


async def _update_timer(session: AsyncSession, timer_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(SlaTimer).where(col(SlaTimer.id) == timer_id).values(**values))


async def _ticket_policy(
    session: AsyncSession, ticket_id: uuid.UUID, target: SlaTarget
) -> Policy | None:
    """The policy of the ticket's `target` timer, else of its other timer, else None."""
    rows = await session.execute(
        select(col(SlaTimer.target), col(SlaTimer.policy_id)).where(
            col(SlaTimer.ticket_id) == ticket_id
        )
    )
    by_target = {SlaTarget(row.target): row.policy_id for row in rows}
    policy_id = by_target.get(target) or next(iter(by_target.values()), None)
    if policy_id is None:
        return None
    return (await _policies(session, [policy_id])).get(policy_id)


async def start_clocks(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    ticket_id: uuid.UUID,
    account_id: uuid.UUID,
    department_id: uuid.UUID | None,
    priority: str,
    at: datetime,
) -> None:
    """A new ticket: a running timer, started at `at`, for each target of its policy."""
    policy = choose_policy(
        await _candidate_policies(session, tenant_id, account_id, department_id, priority),
        account_id=account_id,
        department_id=department_id,
        priority=priority,
    )
    if policy is None:
        return
    rows = []
    for target in policy.targets:
        deadlines = deadlines_from(policy, target, at)
        assert deadlines is not None  # policy.targets lists only the targets it sets
        rows.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "ticket_id": ticket_id,
                "policy_id": policy.id,
                "target": target.value,
                "state": RUNNING,
                "started_at": at,
                "due_at": deadlines.due_at,
                "warn_at": deadlines.warn_at,
                "updated_at": at,
            }
        )
    if rows:
        await session.execute(_START_TIMERS, rows)


_START_TIMERS = insert(SlaTimer).on_conflict_do_nothing(index_elements=["ticket_id", "target"])


async def on_agent_reply(session: AsyncSession, *, ticket_id: uuid.UUID, at: datetime) -> None:
    """An agent replied: the first-response clock stops; the first reply sets
    tickets.first_responded_at and response_minutes (from created_at, in the
    policy's time; calendar time when the ticket has no policy)."""
    await session.execute(
        update(SlaTimer)
        .where(
            col(SlaTimer.ticket_id) == ticket_id,
            col(SlaTimer.target) == SlaTarget.FIRST_RESPONSE.value,
            col(SlaTimer.state).in_((RUNNING, PAUSED)),
        )
        .values(state=STOPPED, stopped_at=at, paused_at=None, remaining_seconds=None, updated_at=at)
    )
    ticket = await _ticket(session, ticket_id)
    if ticket.first_responded_at is not None:
        return
    policy = await _ticket_policy(session, ticket_id, SlaTarget.FIRST_RESPONSE)
    await session.execute(
        update(Ticket)
        .where(col(Ticket.id) == ticket_id, col(Ticket.first_responded_at).is_(None))
        .values(
            first_responded_at=at,
            response_minutes=elapsed_minutes(policy, ticket.created_at, at),
        )
    )


async def on_status_change(
    session: AsyncSession, *, ticket_id: uuid.UUID, old: str, new: str, at: datetime
) -> None:
    """Move the ticket's clocks with its status.

    - to pending: running clocks pause, keeping the time they have left;
    - pending to open: paused clocks run again, due that time later;
    - to resolved or closed: every clock stops (keeping the time left); the
      first resolution sets resolved_at and resolution_minutes (from created_at,
      in the policy's time; calendar time without a policy);
    - resolved or closed back to open or pending (reopened): the resolution
      clock, and the first-response clock if nobody has replied yet, carry on
      with the time they had left (paused if the ticket is pending);
      resolved_at and resolution_minutes are cleared.
    """
    if old == new:
        return
    if new in DONE:
        await _stop_for_resolution(session, ticket_id, at)
    elif old in DONE and new in ACTIVE:
        await _reopen(session, ticket_id, paused=new == TicketStatus.PENDING.value, at=at)
    elif new == TicketStatus.PENDING.value:
        await _pause(session, ticket_id, at)
    elif new == TicketStatus.OPEN.value:
        await _resume(session, ticket_id, at)


async def _pause(session: AsyncSession, ticket_id: uuid.UUID, at: datetime) -> None:
    timers = [t for t in (await _locked_timers(session, ticket_id)).values() if t.state == RUNNING]
    policies = await _policies(session, (t.policy_id for t in timers))
    for timer in timers:
        await _update_timer(
            session,
            timer.id,
            state=PAUSED,
            paused_at=at,
            remaining_seconds=remaining_seconds(policies[timer.policy_id], timer.due_at, at),
            updated_at=at,
        )


async def _resume(session: AsyncSession, ticket_id: uuid.UUID, at: datetime) -> None:
    timers = [t for t in (await _locked_timers(session, ticket_id)).values() if t.state == PAUSED]
    await _run_again(session, timers, at)


async def _run_again(session: AsyncSession, timers: Collection[_Timer], at: datetime) -> None:
    """Restart paused or stopped timers from the time they had left."""
    policies = await _policies(session, (t.policy_id for t in timers))
    for timer in timers:
        deadlines = deadlines_after(
            policies[timer.policy_id],
            timer.target,
            at=at,
            remaining=timer.remaining_seconds or 0.0,
            passed=timer.deadlines,
        )
        await _update_timer(
            session,
            timer.id,
            state=RUNNING,
            due_at=deadlines.due_at,
            warn_at=deadlines.warn_at,
            paused_at=None,
            stopped_at=None,
            remaining_seconds=None,
            updated_at=at,
        )


async def _stop_for_resolution(session: AsyncSession, ticket_id: uuid.UUID, at: datetime) -> None:
    timers = [t for t in (await _locked_timers(session, ticket_id)).values() if t.state != STOPPED]
    policies = await _policies(session, (t.policy_id for t in timers))
    for timer in timers:
        left = (
            timer.remaining_seconds
            if timer.state == PAUSED
            else remaining_seconds(policies[timer.policy_id], timer.due_at, at)
        )
        await _update_timer(
            session,
            timer.id,
            state=STOPPED,
            stopped_at=at,
            paused_at=None,
            remaining_seconds=left,
            updated_at=at,
        )
    ticket = await _ticket(session, ticket_id)
    policy = await _ticket_policy(session, ticket_id, SlaTarget.RESOLUTION)
    await session.execute(
        update(Ticket)
        .where(col(Ticket.id) == ticket_id, col(Ticket.resolved_at).is_(None))
        .values(
            resolved_at=at,
            resolution_minutes=elapsed_minutes(policy, ticket.created_at, at),
        )
    )


async def _reopen(
    session: AsyncSession, ticket_id: uuid.UUID, *, paused: bool, at: datetime
) -> None:
    ticket = await _ticket(session, ticket_id)
    timers = [
        t
        for t in (await _locked_timers(session, ticket_id)).values()
        if t.state == STOPPED
        and t.remaining_seconds is not None
        and (t.target == SlaTarget.RESOLUTION or ticket.first_responded_at is None)
    ]
    if paused:
        for timer in timers:
            await _update_timer(
                session, timer.id, state=PAUSED, paused_at=at, stopped_at=None, updated_at=at
            )
    else:
        await _run_again(session, timers, at)
    await session.execute(
        update(Ticket)
        .where(
            col(Ticket.id) == ticket_id,
            or_(col(Ticket.resolved_at).is_not(None), col(Ticket.resolution_minutes).is_not(None)),
        )
        .values(resolved_at=None, resolution_minutes=None)
    )


async def on_priority_change(
    session: AsyncSession, *, ticket_id: uuid.UUID, priority: str, at: datetime
) -> None:
    """The ticket's priority changed: choose its policy again and move its clocks to it.

    A clock keeps the time it has already run (in the old policy's time) and
    gets the new policy's target: due when the new target minus that time has
    passed; already overdue when the new target is shorter than that. A target
    the new policy does not set is dropped; a target it adds starts from the
    ticket's creation. Warnings and breaches that happened stay. A resolved or
    closed ticket's clocks are left as they stopped. A first response already
    given is not timed again.
    """
    ticket = await _ticket(session, ticket_id)
    if ticket.status not in ACTIVE:
        return
    policy = choose_policy(
        await _candidate_policies(
            session, ticket.tenant_id, ticket.account_id, ticket.department_id, priority
        ),
        account_id=ticket.account_id,
        department_id=ticket.department_id,
        priority=priority,
    )
    timers = await _locked_timers(session, ticket_id)
    old_policies = await _policies(session, (t.policy_id for t in timers.values()))
    pending = ticket.status == TicketStatus.PENDING.value
    for target in SLA_TARGETS:
        if target == SlaTarget.FIRST_RESPONSE and ticket.first_responded_at is not None:
            continue
        timer = timers.get(target)
        total = policy.target_seconds(target) if policy is not None else None
        if policy is None or total is None:
            if timer is not None and timer.state != STOPPED:
                await _update_timer(
                    session,
                    timer.id,
                    state=STOPPED,
                    stopped_at=at,
                    paused_at=None,
                    remaining_seconds=None,
                    updated_at=at,
                )
            continue
        if timer is not None and timer.state != STOPPED and timer.policy_id == policy.id:
            continue
        started_at = timer.started_at if timer is not None else ticket.created_at
        left = total - _elapsed(timer, old_policies, policy, started_at, at)
        deadlines = deadlines_after(
            policy,
            target,
            at=at,
            remaining=left,
            passed=_passed(policy, target, started_at, at),
        )
        state_values: dict[str, Any] = {
            "state": PAUSED if pending else RUNNING,
            "paused_at": ((timer.paused_at if timer else None) or at) if pending else None,
            "remaining_seconds": left if pending else None,
            "due_at": deadlines.due_at,
            "warn_at": deadlines.warn_at,
            "policy_id": policy.id,
            "stopped_at": None,
            "updated_at": at,
        }
        if timer is not None:
            await _update_timer(session, timer.id, **state_values)
            continue
        await session.execute(
            insert(SlaTimer)
            .values(
                id=uuid.uuid4(),
                tenant_id=ticket.tenant_id,
                ticket_id=ticket_id,
                target=target.value,
                started_at=started_at,
                **state_values,
            )
            .on_conflict_do_nothing(index_elements=["ticket_id", "target"])
        )


def _elapsed(
    timer: _Timer | None,
    old_policies: dict[uuid.UUID, Policy],
    policy: Policy,
    started_at: datetime,
    at: datetime,
) -> float:
    """Seconds a clock has run by `at`: the old target minus what it had left when the old
    policy is known; else (a new or dropped clock) the new policy's time since it started."""
    old = old_policies.get(timer.policy_id) if timer is not None else None
    if timer is None or timer.state == STOPPED or old is None:
        return policy.clock.seconds_between(started_at, at)
    old_total = old.target_seconds(timer.target)
    if old_total is None:
        return policy.clock.seconds_between(started_at, at)
    left = (
        timer.remaining_seconds
        if timer.state == PAUSED and timer.remaining_seconds is not None
        else remaining_seconds(old, timer.due_at, at)
    )
    return old_total - left


def _passed(policy: Policy, target: SlaTarget, started_at: datetime, at: datetime) -> Deadlines:
    """The policy's deadlines from `started_at`, no later than `at`: what stands for a clock
    that is already overdue under it."""
    deadlines = deadlines_from(policy, target, started_at)
    assert deadlines is not None  # called only for targets the policy sets
    return deadlines.not_after(at)
