"""Who owns a ticket: eligibility, working hours and the department's strategy. No I/O
(queries and locks are in postdesk_router.assignment_db).

Invariants:
- Eligible: role primary or backup (viewers never), assignment active and user
  active. Available: eligible and the user's working hours (in the user's
  timezone) are open at `now`; empty hours mean always, and an unusable
  setting counts as always available (logged as a warning).
- Members rank by assignment priority (lower first), then by the caller's
  order (callers pass the oldest assignment first).
- Strategies (departments.routing_strategy; no department or an unknown
  value means "primary"):
  primary:     the first available primary, else the first available backup.
  priority:    the first available member by priority, primaries before
               backups of equal priority.
  round_robin: the first available member after the department's last pick
               (round_robin_last_user_id) in the ring of the account's
               primary and backup assignments, wrapping around.
  least_open:  the available member with the fewest open or pending tickets,
               ties by rank.
- When nobody eligible is available, the same strategy applies to the
  eligible members regardless of hours (rule "<rule>-outside-hours"), so a
  ticket is never unowned while someone active holds the account. Callers
  that want only someone working now (reassignment) turn that off.
- `current_assignee` is never chosen (reassignment); the round-robin ring
  still contains them, so the rotation's order does not shift.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog
from postdesk_contracts.schedule import Schedule

from postdesk_router.domain import AssigneeChoice, AssignmentCandidate, AssignmentRule

log = structlog.get_logger(__name__)

ASSIGNABLE_ROLES = frozenset({"primary", "backup"})


class Strategy(StrEnum):
    """How a department spreads tickets of its shared accounts."""

    PRIMARY = "primary"
    PRIORITY = "priority"
    ROUND_ROBIN = "round_robin"
    LEAST_OPEN = "least_open"

    @property
    def locks_department(self) -> bool:
        """Whether the choice depends on state other replicas change (pointer, ticket counts),
        so the department row must be locked while choosing."""
        return self in (Strategy.ROUND_ROBIN, Strategy.LEAST_OPEN)


_RULES: dict[tuple[Strategy, bool], AssignmentRule] = {
    (Strategy.PRIORITY, False): AssignmentRule.PRIORITY,
    (Strategy.PRIORITY, True): AssignmentRule.PRIORITY_OUTSIDE_HOURS,
    (Strategy.ROUND_ROBIN, False): AssignmentRule.ROUND_ROBIN,
    (Strategy.ROUND_ROBIN, True): AssignmentRule.ROUND_ROBIN_OUTSIDE_HOURS,
    (Strategy.LEAST_OPEN, False): AssignmentRule.LEAST_OPEN,
    (Strategy.LEAST_OPEN, True): AssignmentRule.LEAST_OPEN_OUTSIDE_HOURS,
}


def strategy_of(value: str | None) -> Strategy:
    """The strategy a department names; none or an unknown value means primary."""
    if not value:
        return Strategy.PRIMARY
    try:
        return Strategy(value)
    except ValueError:
        log.warning("unknown routing strategy; using primary", routing_strategy=value)
        return Strategy.PRIMARY


@dataclass(frozen=True)
class Availability:
    available: bool
    note: str = ""  # why not available, e.g. "outside working hours (Europe/Berlin)"


def availability(candidate: AssignmentCandidate, now: datetime) -> Availability:
    """Whether the candidate's working hours are open at `now` (ignores eligibility)."""
    hours = candidate.working_hours
    try:
        if not isinstance(hours, Mapping):
            raise ValueError(f"working hours must be a mapping of days, got {type(hours).__name__}")
        schedule = Schedule.parse(hours, candidate.timezone)
    except (TypeError, ValueError) as error:  # ScheduleError is a ValueError
        log.warning(
            "unusable working hours; treating the user as always available",
            user_id=str(candidate.user_id),
            error=str(error),
        )
        return Availability(True)
    if schedule.is_open(now):
        return Availability(True)
    return Availability(False, f"outside working hours ({candidate.timezone or 'UTC'})")


def label(candidate: AssignmentCandidate) -> str:
    """How reasons name a user: their name, else their id."""
    return candidate.name or str(candidate.user_id)


@dataclass(frozen=True)
class _Member:
    candidate: AssignmentCandidate
    rank: int  # position by (priority, caller's order)
    available: bool
    note: str  # why not available

    @property
    def user_id(self) -> uuid.UUID:
        return self.candidate.user_id

    @property
    def label(self) -> str:
        return label(self.candidate)

    @property
    def is_primary(self) -> bool:
        return self.candidate.role == "primary"


@dataclass(frozen=True)
class _Context:
    strategy: Strategy
    ring: list[AssignmentCandidate]  # every primary/backup assignment, by rank
    members: list[_Member]  # eligible, not the current assignee, by rank
    current: AssignmentCandidate | None  # the current assignee, never chosen
    round_robin_last: uuid.UUID | None
    open_counts: Mapping[uuid.UUID, int]
    outside_hours: bool  # this pass ignores working hours


def choose_by_strategy(
    strategy: Strategy,
    candidates: Sequence[AssignmentCandidate],
    now: datetime,
    *,
    round_robin_last: uuid.UUID | None = None,
    open_counts: Mapping[uuid.UUID, int] | None = None,
    current_assignee: uuid.UUID | None = None,
    outside_hours_fallback: bool = True,
) -> AssigneeChoice | None:
    """The assignee by the module's rules, or None when nobody may take the ticket.

    `candidates` are the account's assignments, oldest first; `open_counts`
    maps users to their open and pending tickets (least_open only).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ordered = sorted(enumerate(candidates), key=lambda item: (item[1].priority, item[0]))
    ring = [c for _, c in ordered if c.role in ASSIGNABLE_ROLES]
    members = []
    for rank, candidate in enumerate(ring):
        if not (candidate.assignment_active and candidate.user_active):
            continue
        if candidate.user_id == current_assignee:
            continue
        state = availability(candidate, now)
        members.append(_Member(candidate, rank, state.available, state.note))
    passes = (False, True) if outside_hours_fallback else (False,)
    for outside_hours in passes:
        context = _Context(
            strategy,
            ring,
            members,
            next((c for c in ring if c.user_id == current_assignee), None),
            round_robin_last,
            open_counts or {},
            outside_hours,
        )
        pool = [m for m in members if outside_hours or m.available]
        choice = _pick(context, pool)
        if choice is not None:
            return choice
    return None


def _pick(context: _Context, pool: list[_Member]) -> AssigneeChoice | None:
    if not pool:
        return None
    if context.strategy is Strategy.PRIMARY:
        return _primary(context, pool)
    if context.strategy is Strategy.PRIORITY:
        chosen = min(pool, key=lambda m: (m.candidate.priority, not m.is_primary, m.rank))
        reason = (
            f"{chosen.label} ({chosen.candidate.role}, priority {chosen.candidate.priority})"
            " is the first by priority"
        )
        skipped = [
            m
            for m in context.members
            if not m.available
            and (m.candidate.priority, not m.is_primary, m.rank)
            < (chosen.candidate.priority, not chosen.is_primary, chosen.rank)
        ]
        return _choice(context, chosen, reason + _skipped(context, skipped))
    if context.strategy is Strategy.ROUND_ROBIN:
        return _round_robin(context, pool)
    counts = context.open_counts
    chosen = min(pool, key=lambda m: (counts.get(m.user_id, 0), m.rank))
    loads = ", ".join(f"{m.label} {counts.get(m.user_id, 0)}" for m in pool)
    return _choice(context, chosen, f"{chosen.label} has the fewest open tickets ({loads})")


def _primary(context: _Context, pool: list[_Member]) -> AssigneeChoice:
    primaries = [m for m in pool if m.is_primary]
    if primaries:
        chosen = primaries[0]
        if context.outside_hours:
            return _choice(
                context, chosen, f"primary {chosen.label}", AssignmentRule.PRIMARY_OUTSIDE_HOURS
            )
        away = [m for m in context.members if m.is_primary and m.rank < chosen.rank]
        reason = f"primary {chosen.label} is available" + _skipped(context, away)
        return _choice(context, chosen, reason, AssignmentRule.PRIMARY)
    chosen = pool[0]
    why = [f"{m.label} is {m.note}" for m in context.members if m.is_primary and not m.available]
    if context.current is not None and context.current.role == "primary":
        why.insert(0, f"primary {label(context.current)} already has it")
    rule = AssignmentRule.BACKUP_OUTSIDE_HOURS if context.outside_hours else AssignmentRule.BACKUP
    return _choice(
        context,
        chosen,
        f"{'; '.join(why) or 'no active primary'}; backup {chosen.label}"
        f" with priority {chosen.candidate.priority}",
        rule,
    )


def _round_robin(context: _Context, pool: list[_Member]) -> AssigneeChoice:
    ring_ids = [c.user_id for c in context.ring]
    last = context.round_robin_last
    start = ring_ids.index(last) + 1 if last in ring_ids else 0
    by_id = {m.user_id: m for m in pool}
    unavailable = {m.user_id: m for m in context.members if not m.available}
    skipped: list[_Member] = []
    turn = ring_ids[start:] + ring_ids[:start]
    chosen = None
    for user_id in turn:
        if user_id in by_id:
            chosen = by_id[user_id]
            break
        if user_id in unavailable:
            skipped.append(unavailable[user_id])
    assert chosen is not None  # every pool member is in the ring
    if last in ring_ids:
        reason = f"{chosen.label} follows {label(context.ring[start - 1])} in the rotation"
    else:
        reason = f"{chosen.label} starts the rotation"
    return _choice(context, chosen, reason + _skipped(context, skipped))


def _skipped(context: _Context, skipped: list[_Member]) -> str:
    if context.outside_hours or not skipped:
        return ""
    return "; skipped " + ", ".join(f"{m.label} ({m.note})" for m in skipped)


def _choice(
    context: _Context, chosen: _Member, reason: str, rule: AssignmentRule | None = None
) -> AssigneeChoice:
    rule = rule or _RULES[(context.strategy, context.outside_hours)]
    if context.outside_hours:
        reason = f"nobody is within working hours; {reason}"
    return AssigneeChoice(chosen.user_id, rule, reason)
