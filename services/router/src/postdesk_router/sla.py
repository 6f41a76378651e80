"""SLA rules: which policy applies to a ticket, when its targets fall due, clock arithmetic.

Pure: no database, no clock reads; callers pass every moment in.

- The most specific active policy applies, as a whole (targets are not merged
  from less specific policies): account + priority, account, department +
  priority, department, tenant-wide + priority, tenant-wide. A policy matches
  when every field it sets matches the ticket. Ties go to the first policy in
  the order given (the queries pass the oldest first).
- A policy counts business time (its working hours, timezone and holidays)
  when `business_hours` is set, else calendar time. A business-hours setting
  that cannot be used counts calendar time, with a warning in the log.
- A target is due `minutes` of the policy's time after its clock starts; the
  warning falls at `warning_percent` (clamped to 0..100) of that time.
- A clock that stops (paused while pending on the customer, or stopped by a
  resolution that may be reopened) keeps the seconds it has left, in the
  policy's time; negative when it stopped overdue. Restarted, it is due that
  many seconds of the policy's time later; a clock that was overdue keeps the
  deadlines that already passed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import structlog
from postdesk_contracts import SlaTarget
from postdesk_contracts.schedule import Schedule, ScheduleError

log = structlog.get_logger(__name__)

SLA_TARGETS = (SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION)
CALENDAR = Schedule.parse({}, "UTC")


@dataclass(frozen=True)
class Policy:
    """The parts of an sla_policies row the rules read."""

    id: uuid.UUID
    account_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    priority: str | None = None
    first_response_minutes: int | None = None
    resolution_minutes: int | None = None
    business_hours: bool = False
    timezone: str = "UTC"
    working_hours: Mapping[str, Any] = field(default_factory=dict)
    holidays: tuple[str, ...] = ()
    warning_percent: int = 80
    is_active: bool = True

    def target_seconds(self, target: SlaTarget) -> float | None:
        """The target's length in the policy's time; None when the policy sets no such target."""
        minutes = (
            self.first_response_minutes
            if target == SlaTarget.FIRST_RESPONSE
            else self.resolution_minutes
        )
        return None if minutes is None or minutes <= 0 else minutes * 60.0

    @property
    def targets(self) -> tuple[SlaTarget, ...]:
        return tuple(t for t in SLA_TARGETS if self.target_seconds(t) is not None)

    @property
    def warning_share(self) -> float:
        return min(max(self.warning_percent, 0), 100) / 100

    @cached_property
    def clock(self) -> Schedule:
        """Business hours when the policy counts them, else calendar time."""
        if not self.business_hours:
            return CALENDAR
        try:
            return Schedule.parse(self.working_hours, self.timezone, self.holidays)
        except ScheduleError as error:
            log.warning(
                "unusable SLA working hours: counting calendar time",
                policy_id=str(self.id),
                error=str(error),
            )
            return CALENDAR


def specificity(
    policy: Policy,
    *,
    account_id: uuid.UUID | None,
    department_id: uuid.UUID | None,
    priority: str | None,
) -> int | None:
    """0 (account + priority) .. 5 (tenant-wide, any priority); None when the policy does not match."""
    if not policy.is_active:
        return None
    if policy.account_id is not None and policy.account_id != account_id:
        return None
    if policy.department_id is not None and policy.department_id != department_id:
        return None
    if policy.priority is not None and policy.priority != priority:
        return None
    tier = 0 if policy.account_id is not None else 1 if policy.department_id is not None else 2
    return tier * 2 + (0 if policy.priority is not None else 1)


def choose_policy(
    policies: Iterable[Policy],
    *,
    account_id: uuid.UUID | None,
    department_id: uuid.UUID | None,
    priority: str | None,
) -> Policy | None:
    """The most specific active policy matching the ticket; the first of equals wins."""
    best: tuple[int, Policy] | None = None
    for policy in policies:
        rank = specificity(
            policy, account_id=account_id, department_id=department_id, priority=priority
        )
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, policy)
    return best[1] if best else None


@dataclass(frozen=True)
class Deadlines:
    due_at: datetime
    warn_at: datetime

    def not_after(self, at: datetime) -> Deadlines:
        return Deadlines(min(self.due_at, at), min(self.warn_at, at))


def deadlines_from(policy: Policy, target: SlaTarget, start: datetime) -> Deadlines | None:
    """Deadlines of a clock started at `start`; None when the policy sets no such target."""
    total = policy.target_seconds(target)
    if total is None:
        return None
    clock = policy.clock
    return Deadlines(clock.add(start, total), clock.add(start, total * policy.warning_share))


def remaining_seconds(policy: Policy, due_at: datetime, at: datetime) -> float:
    """Seconds of the policy's time from `at` until `due_at`; negative when `at` is past it."""
    if at <= due_at:
        return policy.clock.seconds_between(at, due_at)
    return -policy.clock.seconds_between(due_at, at)


def deadlines_after(
    policy: Policy,
    target: SlaTarget,
    *,
    at: datetime,
    remaining: float,
    passed: Deadlines,
) -> Deadlines:
    """Deadlines of a clock restarting at `at` with `remaining` seconds left on it.

    When nothing remains the target was already missed and `passed` stands (the
    deadlines that went by, no later than `at`). The warning falls where it
    would have had the clock never stopped: `warning_percent` of the target
    elapsed; if that moment is behind us, it is `passed.warn_at`.
    """
    if remaining <= 0:
        return passed.not_after(at)
    clock = policy.clock
    total = policy.target_seconds(target) or remaining
    until_warning = remaining - total * (1 - policy.warning_share)
    warn_at = clock.add(at, until_warning) if until_warning > 0 else min(passed.warn_at, at)
    return Deadlines(clock.add(at, remaining), warn_at)


def elapsed_minutes(policy: Policy | None, start: datetime, end: datetime) -> int:
    """Whole minutes from `start` to `end` in the policy's time (calendar when no policy)."""
    clock = policy.clock if policy is not None else CALENDAR
    return int(clock.seconds_between(start, end) // 60)
