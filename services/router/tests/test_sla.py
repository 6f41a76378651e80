"""SLA rules without a database: policy choice, deadlines, pause and resume, minutes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postdesk_contracts import SlaTarget
from postdesk_router.sla import (
    Deadlines,
    Policy,
    choose_policy,
    deadlines_after,
    deadlines_from,
    elapsed_minutes,
    remaining_seconds,
)

FIRST, RESOLUTION = SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION
ACCOUNT, OTHER_ACCOUNT = uuid.uuid4(), uuid.uuid4()
DEPARTMENT = uuid.uuid4()
OFFICE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def policy(**fields: object) -> Policy:
    defaults: dict[str, object] = {
        "id": uuid.uuid4(),
        "first_response_minutes": 60,
        "resolution_minutes": 480,
    }
    return Policy(**(defaults | fields))  # type: ignore[arg-type]


BERLIN_OFFICE = policy(
    business_hours=True,
    timezone="Europe/Berlin",
    working_hours=OFFICE,
    holidays=("2026-12-25",),
    first_response_minutes=120,
)


def choose(policies: list[Policy], priority: str = "urgent") -> Policy | None:
    return choose_policy(policies, account_id=ACCOUNT, department_id=DEPARTMENT, priority=priority)


def test_the_most_specific_policy_wins_in_the_documented_order() -> None:
    ladder = [
        policy(account_id=ACCOUNT, priority="urgent"),
        policy(account_id=ACCOUNT),
        policy(department_id=DEPARTMENT, priority="urgent"),
        policy(department_id=DEPARTMENT),
        policy(priority="urgent"),
        policy(),
    ]
    # remove the best one at a time: the next rung is chosen, whatever the input order
    for i, expected in enumerate(ladder):
        remaining = ladder[i:]
        assert choose(list(reversed(remaining))) == expected
        assert choose(remaining) == expected


def test_policies_that_do_not_match_or_are_inactive_are_ignored() -> None:
    tenant_wide = policy()
    assert (
        choose(
            [
                policy(account_id=OTHER_ACCOUNT),
                policy(department_id=uuid.uuid4()),
                policy(priority="low"),
                policy(account_id=ACCOUNT, priority="urgent", is_active=False),
                # an account policy naming another department does not match
                policy(account_id=ACCOUNT, department_id=uuid.uuid4()),
                tenant_wide,
            ]
        )
        == tenant_wide
    )
    assert choose([policy(priority="low")]) is None
    assert choose([]) is None


def test_ties_go_to_the_first_given() -> None:
    older, newer = policy(account_id=ACCOUNT), policy(account_id=ACCOUNT)
    assert choose([older, newer]) == older


def test_a_ticket_without_department_matches_no_department_policy() -> None:
    tenant_wide = policy()
    chosen = choose_policy(
        [policy(department_id=DEPARTMENT), tenant_wide],
        account_id=ACCOUNT,
        department_id=None,
        priority="normal",
    )
    assert chosen == tenant_wide


def test_calendar_deadlines_and_warning_share() -> None:
    start = utc(2026, 11, 28, 3)  # a Saturday night: calendar time counts it
    calendar = policy(warning_percent=75)
    assert deadlines_from(calendar, FIRST, start) == Deadlines(
        start + timedelta(hours=1), start + timedelta(minutes=45)
    )
    assert deadlines_from(calendar, RESOLUTION, start) == Deadlines(
        start + timedelta(hours=8), start + timedelta(hours=6)
    )
    assert calendar.targets == (FIRST, RESOLUTION)


def test_targets_the_policy_does_not_set() -> None:
    only_first = policy(resolution_minutes=None)
    assert only_first.targets == (FIRST,)
    assert deadlines_from(only_first, RESOLUTION, utc(2026, 11, 25)) is None
    assert policy(first_response_minutes=0).targets == (RESOLUTION,)


@pytest.mark.parametrize(("percent", "warn_minutes"), [(-5, 0), (0, 0), (100, 60), (150, 60)])
def test_warning_percent_is_clamped(percent: int, warn_minutes: int) -> None:
    start = utc(2026, 11, 25, 10)
    deadlines = deadlines_from(policy(warning_percent=percent), FIRST, start)
    assert deadlines is not None
    assert deadlines.warn_at == start + timedelta(minutes=warn_minutes)


def test_business_hours_skip_nights_weekends_and_holidays() -> None:
    friday_afternoon = utc(2026, 11, 27, 15, 0)  # 16:00 in Berlin, one working hour left
    deadlines = deadlines_from(BERLIN_OFFICE, FIRST, friday_afternoon)
    # 120 minutes: one on Friday, one on Monday from 09:00 Berlin (08:00 UTC)
    assert deadlines == Deadlines(utc(2026, 11, 30, 9, 0), utc(2026, 11, 30, 8, 36))
    christmas_eve = utc(2026, 12, 24, 15, 30)  # 16:30 Berlin; the 25th is a holiday
    due = deadlines_from(BERLIN_OFFICE, FIRST, christmas_eve)
    assert due is not None
    assert due.due_at == utc(2026, 12, 28, 9, 30)  # Monday 10:30 Berlin
    # a ticket created at night starts counting when the office opens
    saturday = utc(2026, 11, 28, 12)
    resolution = deadlines_from(BERLIN_OFFICE, RESOLUTION, saturday)
    assert resolution is not None
    assert resolution.due_at == utc(2026, 11, 30, 16, 0)  # Monday 17:00 Berlin


def test_unusable_working_hours_count_calendar_time() -> None:
    broken = policy(business_hours=True, working_hours={"monday": [["09:00", "17:00"]]})
    start = utc(2026, 11, 28, 3)
    deadlines = deadlines_from(broken, FIRST, start)
    assert deadlines is not None
    assert deadlines.due_at == start + timedelta(hours=1)
    bad_zone = policy(business_hours=True, working_hours=OFFICE, timezone="Mars/Olympus")
    assert elapsed_minutes(bad_zone, start, start + timedelta(hours=2)) == 120


def test_business_hours_off_ignores_working_hours() -> None:
    calendar = policy(working_hours=OFFICE, timezone="Europe/Berlin", business_hours=False)
    start = utc(2026, 11, 28, 3)
    assert elapsed_minutes(calendar, start, start + timedelta(days=1)) == 1440


def test_pause_and_resume_in_calendar_time() -> None:
    start = utc(2026, 11, 25, 10)
    calendar = policy()  # first response 60 minutes, warning at 80% (48 minutes)
    deadlines = deadlines_from(calendar, FIRST, start)
    assert deadlines is not None
    paused_at = start + timedelta(minutes=20)
    left = remaining_seconds(calendar, deadlines.due_at, paused_at)
    assert left == 40 * 60
    resumed_at = paused_at + timedelta(hours=3)
    resumed = deadlines_after(calendar, FIRST, at=resumed_at, remaining=left, passed=deadlines)
    # the three paused hours do not count: due 40 minutes, warning 28 minutes after resuming
    assert resumed == Deadlines(
        resumed_at + timedelta(minutes=40), resumed_at + timedelta(minutes=28)
    )


def test_resume_after_the_warning_point_keeps_the_warning_passed() -> None:
    start = utc(2026, 11, 25, 10)
    calendar = policy()
    deadlines = deadlines_from(calendar, FIRST, start)
    assert deadlines is not None
    paused_at = start + timedelta(minutes=50)  # past the 48-minute warning
    left = remaining_seconds(calendar, deadlines.due_at, paused_at)
    resumed_at = paused_at + timedelta(hours=1)
    resumed = deadlines_after(calendar, FIRST, at=resumed_at, remaining=left, passed=deadlines)
    assert resumed == Deadlines(resumed_at + timedelta(minutes=10), deadlines.warn_at)


def test_pause_and_resume_in_business_time() -> None:
    start = utc(2026, 11, 27, 8, 0)  # Friday 09:00 Berlin
    deadlines = deadlines_from(BERLIN_OFFICE, FIRST, start)
    assert deadlines is not None
    assert deadlines.due_at == utc(2026, 11, 27, 10, 0)
    paused_at = utc(2026, 11, 27, 9, 0)  # one working hour used
    left = remaining_seconds(BERLIN_OFFICE, deadlines.due_at, paused_at)
    assert left == 3600
    resumed_at = utc(2026, 11, 27, 15, 30)  # 16:30 Berlin: half an hour left today
    resumed = deadlines_after(BERLIN_OFFICE, FIRST, at=resumed_at, remaining=left, passed=deadlines)
    assert resumed.due_at == utc(2026, 11, 30, 8, 30)  # Monday 09:30 Berlin
    # warning at 96 of 120 minutes: 36 minutes after resuming
    assert resumed.warn_at == utc(2026, 11, 30, 8, 6)


def test_a_clock_that_stopped_overdue_keeps_its_passed_deadlines() -> None:
    start = utc(2026, 11, 25, 10)
    calendar = policy()
    deadlines = deadlines_from(calendar, FIRST, start)
    assert deadlines is not None
    late = start + timedelta(hours=2)
    left = remaining_seconds(calendar, deadlines.due_at, late)
    assert left == -3600
    later = late + timedelta(hours=5)
    assert deadlines_after(calendar, FIRST, at=later, remaining=left, passed=deadlines) == (
        deadlines
    )
    # passed deadlines are never later than the restart
    future = Deadlines(later + timedelta(days=1), later + timedelta(hours=1))
    assert deadlines_after(calendar, FIRST, at=later, remaining=0, passed=future) == Deadlines(
        later, later
    )


def test_elapsed_minutes_business_calendar_and_no_policy() -> None:
    created = utc(2026, 11, 27, 15, 0)  # Friday 16:00 Berlin
    replied = utc(2026, 11, 30, 8, 30)  # Monday 09:30 Berlin
    assert elapsed_minutes(BERLIN_OFFICE, created, replied) == 90
    assert (
        elapsed_minutes(policy(), created, replied) == (replied - created).seconds // 60 + 2 * 1440
    )
    assert elapsed_minutes(None, created, created + timedelta(seconds=119)) == 1
    assert elapsed_minutes(None, created, created - timedelta(hours=1)) == 0


@given(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=0, max_value=30 * 86_400),
)
def test_pausing_for_any_while_moves_the_deadline_by_no_working_time(
    start: datetime, progress: float, pause: int
) -> None:
    """Business time until due is the same before pausing and after resuming."""
    deadlines = deadlines_from(BERLIN_OFFICE, RESOLUTION, start)
    assert deadlines is not None
    paused_at = start + (deadlines.due_at - start) * progress
    left = remaining_seconds(BERLIN_OFFICE, deadlines.due_at, paused_at)
    resumed_at = paused_at + timedelta(seconds=pause)
    resumed = deadlines_after(
        BERLIN_OFFICE, RESOLUTION, at=resumed_at, remaining=left, passed=deadlines
    )
    clock = BERLIN_OFFICE.clock
    assert clock.seconds_between(resumed_at, resumed.due_at) == pytest.approx(left, abs=1e-3)
    if pause == 0:
        assert abs((resumed.due_at - deadlines.due_at).total_seconds()) < 1e-3
