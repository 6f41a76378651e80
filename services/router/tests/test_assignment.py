"""Assignment rules without a database: eligibility, working hours, each strategy."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from postdesk_router.assignment import (
    Strategy,
    availability,
    choose_by_strategy,
    strategy_of,
)
from postdesk_router.domain import AssignmentCandidate, AssignmentRule
from structlog.testing import capture_logs

# Wednesday 12 June 2024, 08:30 UTC: 10:30 in Berlin (CEST), 04:30 in New York (EDT).
NOW = datetime(2024, 6, 12, 8, 30, tzinfo=UTC)
OFFICE = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def member(
    name: str,
    role: str = "backup",
    priority: int = 0,
    *,
    active: bool = True,
    user_active: bool = True,
    timezone: str = "UTC",
    hours: Any = None,
) -> AssignmentCandidate:
    return AssignmentCandidate(
        user_id=uuid.uuid4(),
        role=role,
        priority=priority,
        assignment_active=active,
        user_active=user_active,
        name=name,
        timezone=timezone,
        working_hours=hours if hours is not None else {},
    )


def berlin(name: str, role: str = "backup", priority: int = 0) -> AssignmentCandidate:
    """Within working hours at NOW."""
    return member(name, role, priority, timezone="Europe/Berlin", hours=OFFICE)


def new_york(name: str, role: str = "backup", priority: int = 0) -> AssignmentCandidate:
    """Outside working hours at NOW."""
    return member(name, role, priority, timezone="America/New_York", hours=OFFICE)


def chosen_name(choice: Any, candidates: list[AssignmentCandidate]) -> str | None:
    if choice is None:
        return None
    return next(c.name for c in candidates if c.user_id == choice.user_id)


class TestAvailability:
    def test_working_hours_are_read_in_the_users_timezone(self) -> None:
        """The same 09:00-17:00 is open in Berlin and closed in New York at 08:30 UTC."""
        assert availability(berlin("alice"), NOW).available
        away = availability(new_york("nina"), NOW)
        assert not away.available
        assert away.note == "outside working hours (America/New_York)"

    def test_empty_hours_mean_always_available(self) -> None:
        assert availability(member("alice", timezone="Asia/Tokyo"), NOW).available

    @pytest.mark.parametrize(
        ("timezone", "hours"),
        [
            ("Mars/Olympus", OFFICE),
            ("UTC", {"mon": [["9am", "5pm"]]}),
            ("UTC", {"someday": [["09:00", "17:00"]]}),
            ("UTC", [["09:00", "17:00"]]),
        ],
    )
    def test_an_unusable_setting_counts_as_available_and_warns(
        self, timezone: str, hours: Any
    ) -> None:
        candidate = member("alice", timezone=timezone, hours=hours)
        with capture_logs() as logs:
            assert availability(candidate, NOW).available
        assert [e["log_level"] for e in logs] == ["warning"]
        assert logs[0]["user_id"] == str(candidate.user_id)


class TestEligibility:
    @pytest.mark.parametrize("strategy", list(Strategy))
    def test_viewers_are_never_assigned(self, strategy: Strategy) -> None:
        """Not even when nobody else holds the account, nor with the best priority."""
        viewer = member("vic", "viewer", -5)
        assert choose_by_strategy(strategy, [viewer], NOW) is None
        backup = new_york("bob", "backup", 3)
        choice = choose_by_strategy(strategy, [viewer, backup], NOW)
        assert choice is not None
        assert choice.user_id == backup.user_id

    @pytest.mark.parametrize("strategy", list(Strategy))
    def test_inactive_assignments_and_users_are_skipped(self, strategy: Strategy) -> None:
        candidates = [
            member("off", "primary", 0, active=False),
            member("gone", "primary", 0, user_active=False),
            member("bob", "backup", 5),
        ]
        assert chosen_name(choose_by_strategy(strategy, candidates, NOW), candidates) == "bob"
        assert choose_by_strategy(strategy, candidates[:2], NOW) is None

    def test_now_must_be_timezone_aware(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            choose_by_strategy(Strategy.PRIMARY, [member("a")], datetime(2024, 6, 12, 8, 30))


class TestStrategyOf:
    def test_missing_means_primary(self) -> None:
        assert strategy_of(None) is Strategy.PRIMARY
        assert strategy_of("") is Strategy.PRIMARY
        assert strategy_of("round_robin") is Strategy.ROUND_ROBIN

    def test_unknown_means_primary_with_a_warning(self) -> None:
        with capture_logs() as logs:
            assert strategy_of("lottery") is Strategy.PRIMARY
        assert logs[0]["log_level"] == "warning"
        assert logs[0]["routing_strategy"] == "lottery"


class TestPrimaryStrategy:
    def test_an_available_primary_wins_over_any_backup(self) -> None:
        candidates = [berlin("bob", "backup", -1), berlin("alice", "primary", 3)]
        choice = choose_by_strategy(Strategy.PRIMARY, candidates, NOW)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == ("alice", AssignmentRule.PRIMARY)
        assert choice.reason == "primary alice is available"

    def test_several_primaries_lowest_priority_then_oldest(self) -> None:
        candidates = [
            member("old2", "primary", 2),
            member("old1", "primary", 1),
            member("new1", "primary", 1),
        ]
        assert chosen_name(choose_by_strategy(Strategy.PRIMARY, candidates, NOW), candidates) == (
            "old1"
        )

    def test_primary_outside_hours_goes_to_backups_in_priority_order(self) -> None:
        candidates = [
            new_york("alice", "primary"),
            berlin("carl", "backup", 2),
            new_york("nina", "backup", 0),
            berlin("bob", "backup", 1),
        ]
        choice = choose_by_strategy(Strategy.PRIMARY, candidates, NOW)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == ("bob", AssignmentRule.BACKUP)
        assert choice.reason == (
            "alice is outside working hours (America/New_York); backup bob with priority 1"
        )

    def test_an_available_second_primary_beats_backups(self) -> None:
        candidates = [
            new_york("alice", "primary", 0),
            berlin("bob", "backup", 0),
            berlin("pia", "primary", 1),
        ]
        choice = choose_by_strategy(Strategy.PRIMARY, candidates, NOW)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == ("pia", AssignmentRule.PRIMARY)
        assert "skipped alice (outside working hours (America/New_York))" in choice.reason

    def test_no_active_primary_is_said(self) -> None:
        candidates = [member("alice", "primary", active=False), member("bob", "backup", 4)]
        choice = choose_by_strategy(Strategy.PRIMARY, candidates, NOW)
        assert choice is not None
        assert choice.reason == "no active primary; backup bob with priority 4"

    def test_nobody_available_falls_back_to_the_primary_outside_hours(self) -> None:
        """A ticket is never unowned while someone active holds the account."""
        candidates = [new_york("nina", "backup", 0), new_york("alice", "primary", 1)]
        choice = choose_by_strategy(Strategy.PRIMARY, candidates, NOW)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == (
            "alice",
            AssignmentRule.PRIMARY_OUTSIDE_HOURS,
        )
        assert choice.reason.startswith("nobody is within working hours; ")

    def test_then_to_a_backup_outside_hours(self) -> None:
        candidates = [
            member("alice", "primary", active=False),
            new_york("nina", "backup", 2),
            new_york("bob", "backup", 1),
        ]
        choice = choose_by_strategy(Strategy.PRIMARY, candidates, NOW)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == (
            "bob",
            AssignmentRule.BACKUP_OUTSIDE_HOURS,
        )

    def test_without_the_fallback_nobody_available_means_none(self) -> None:
        candidates = [new_york("alice", "primary")]
        assert (
            choose_by_strategy(Strategy.PRIMARY, candidates, NOW, outside_hours_fallback=False)
            is None
        )

    def test_the_current_assignee_is_never_chosen(self) -> None:
        candidates = [berlin("alice", "primary"), berlin("bob", "backup", 1)]
        choice = choose_by_strategy(
            Strategy.PRIMARY, candidates, NOW, current_assignee=candidates[0].user_id
        )
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == ("bob", AssignmentRule.BACKUP)
        assert (
            choose_by_strategy(
                Strategy.PRIMARY, candidates[:1], NOW, current_assignee=candidates[0].user_id
            )
            is None
        )


class TestPriorityStrategy:
    def test_lowest_priority_number_wins_whatever_the_role(self) -> None:
        candidates = [berlin("alice", "primary", 2), berlin("bob", "backup", 1)]
        choice = choose_by_strategy(Strategy.PRIORITY, candidates, NOW)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == ("bob", AssignmentRule.PRIORITY)
        assert choice.reason == "bob (backup, priority 1) is the first by priority"

    def test_a_primary_wins_a_tie(self) -> None:
        candidates = [berlin("bob", "backup", 1), berlin("alice", "primary", 1)]
        assert chosen_name(choose_by_strategy(Strategy.PRIORITY, candidates, NOW), candidates) == (
            "alice"
        )

    def test_unavailable_members_are_skipped(self) -> None:
        candidates = [new_york("nina", "primary", 0), berlin("bob", "backup", 5)]
        choice = choose_by_strategy(Strategy.PRIORITY, candidates, NOW)
        assert choice is not None
        assert chosen_name(choice, candidates) == "bob"
        assert choice.reason.endswith("; skipped nina (outside working hours (America/New_York))")

    def test_nobody_available_keeps_the_order_outside_hours(self) -> None:
        candidates = [new_york("nina", "backup", 1), new_york("bob", "backup", 0)]
        choice = choose_by_strategy(Strategy.PRIORITY, candidates, NOW)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == (
            "bob",
            AssignmentRule.PRIORITY_OUTSIDE_HOURS,
        )


def rotate(
    candidates: list[AssignmentCandidate], picks: int, last: uuid.UUID | None = None
) -> list[str | None]:
    """Names chosen by `picks` round-robin choices, each after the previous one."""
    names = []
    for _ in range(picks):
        choice = choose_by_strategy(Strategy.ROUND_ROBIN, candidates, NOW, round_robin_last=last)
        names.append(chosen_name(choice, candidates))
        last = choice.user_id if choice else last
    return names


class TestRoundRobin:
    def test_rotates_in_priority_then_assignment_order(self) -> None:
        candidates = [
            member("carl", "backup", 1),
            member("alice", "primary", 0),
            member("bob", "backup", 0),
        ]
        assert rotate(candidates, 7) == ["alice", "bob", "carl"] * 2 + ["alice"]

    def test_fair_over_many_picks(self) -> None:
        candidates = [member("alice", "primary"), member("bob"), member("carl")]
        assert Counter(rotate(candidates, 30)) == {"alice": 10, "bob": 10, "carl": 10}

    def test_continues_after_the_departments_last_pick(self) -> None:
        candidates = [member("alice", "primary"), member("bob"), member("carl")]
        choice = choose_by_strategy(
            Strategy.ROUND_ROBIN, candidates, NOW, round_robin_last=candidates[1].user_id
        )
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == (
            "carl",
            AssignmentRule.ROUND_ROBIN,
        )
        assert choice.reason == "carl follows bob in the rotation"

    def test_an_unknown_last_pick_starts_the_rotation(self) -> None:
        candidates = [member("alice", "primary"), member("bob")]
        choice = choose_by_strategy(
            Strategy.ROUND_ROBIN, candidates, NOW, round_robin_last=uuid.uuid4()
        )
        assert chosen_name(choice, candidates) == "alice"

    def test_skips_members_outside_hours_and_viewers(self) -> None:
        candidates = [
            berlin("alice", "primary"),
            member("vic", "viewer"),
            new_york("nina"),
            berlin("bob"),
        ]
        choice = choose_by_strategy(
            Strategy.ROUND_ROBIN, candidates, NOW, round_robin_last=candidates[0].user_id
        )
        assert choice is not None
        assert chosen_name(choice, candidates) == "bob"
        assert choice.reason == (
            "bob follows alice in the rotation;"
            " skipped nina (outside working hours (America/New_York))"
        )
        assert rotate(candidates, 4) == ["alice", "bob", "alice", "bob"]

    def test_a_deactivated_last_pick_keeps_its_place_in_the_ring(self) -> None:
        """Deactivating bob does not restart the rotation at the top."""
        candidates = [
            member("alice", "primary"),
            member("bob", active=False),
            member("carl"),
        ]
        choice = choose_by_strategy(
            Strategy.ROUND_ROBIN, candidates, NOW, round_robin_last=candidates[1].user_id
        )
        assert chosen_name(choice, candidates) == "carl"

    def test_the_current_assignee_is_passed_over(self) -> None:
        candidates = [member("alice", "primary"), member("bob"), member("carl")]
        choice = choose_by_strategy(
            Strategy.ROUND_ROBIN,
            candidates,
            NOW,
            round_robin_last=candidates[0].user_id,
            current_assignee=candidates[1].user_id,
        )
        assert chosen_name(choice, candidates) == "carl"

    def test_nobody_available_rotates_outside_hours(self) -> None:
        candidates = [new_york("nina", "primary"), new_york("nick")]
        choice = choose_by_strategy(
            Strategy.ROUND_ROBIN, candidates, NOW, round_robin_last=candidates[0].user_id
        )
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == (
            "nick",
            AssignmentRule.ROUND_ROBIN_OUTSIDE_HOURS,
        )


class TestLeastOpen:
    def test_the_least_loaded_available_member_wins(self) -> None:
        candidates = [berlin("alice", "primary"), berlin("bob"), new_york("nina"), berlin("carl")]
        counts = {
            candidates[0].user_id: 4,
            candidates[1].user_id: 2,
            candidates[2].user_id: 0,  # outside hours
            candidates[3].user_id: 3,
        }
        choice = choose_by_strategy(Strategy.LEAST_OPEN, candidates, NOW, open_counts=counts)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == ("bob", AssignmentRule.LEAST_OPEN)
        assert choice.reason == "bob has the fewest open tickets (alice 4, bob 2, carl 3)"

    def test_no_count_means_no_open_tickets_and_ties_go_by_priority(self) -> None:
        candidates = [member("alice", "primary", 1), member("bob", "backup", 0), member("carl")]
        counts = {candidates[0].user_id: 1}
        choice = choose_by_strategy(Strategy.LEAST_OPEN, candidates, NOW, open_counts=counts)
        assert chosen_name(choice, candidates) == "bob"

    def test_nobody_available_picks_the_least_loaded_outside_hours(self) -> None:
        candidates = [new_york("nina", "primary"), new_york("nick")]
        counts = {candidates[0].user_id: 5, candidates[1].user_id: 1}
        choice = choose_by_strategy(Strategy.LEAST_OPEN, candidates, NOW, open_counts=counts)
        assert choice is not None
        assert (chosen_name(choice, candidates), choice.rule) == (
            "nick",
            AssignmentRule.LEAST_OPEN_OUTSIDE_HOURS,
        )
