"""The sender's pure rules: when a message is first due, how long a retry waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from postdesk_outbound.domain import (
    RETRY_CAP,
    first_attempt_at,
    gave_up_reason,
    log_entry,
    retry_delay,
)
from postdesk_outbound.policy import OutboundPolicy, usable_policy

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_first_attempt_waits_for_the_undo_window_and_send_at() -> None:
    assert first_attempt_at(T0, None, 10) == T0 + timedelta(seconds=10)
    assert first_attempt_at(T0, None, 0) == T0
    assert first_attempt_at(T0, T0 + timedelta(hours=1), 10) == T0 + timedelta(hours=1)
    assert first_attempt_at(T0, T0 + timedelta(seconds=2), 10) == T0 + timedelta(seconds=10)
    assert first_attempt_at(T0, T0 - timedelta(days=1), 10) == T0 + timedelta(seconds=10)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (30, 3600), (500, 3600)],
)
def test_backoff_doubles_up_to_the_cap_with_full_jitter(attempt: int, ceiling: int) -> None:
    """Uniform in [1 s, min(cap, 30 s * 2^(attempt-1))]: the draw picks where."""
    assert retry_delay(attempt, rand=lambda: 1.0) == timedelta(seconds=ceiling)
    assert retry_delay(attempt, rand=lambda: 0.5) == timedelta(seconds=max(ceiling / 2, 1))
    assert retry_delay(attempt, rand=lambda: 0.0) == timedelta(seconds=1)
    assert retry_delay(attempt) <= RETRY_CAP


def test_backoff_draws_differ() -> None:
    """Full jitter: many senders retrying after one outage do not come back in step."""
    assert len({retry_delay(5) for _ in range(50)}) > 10


def test_unusable_policy_falls_back_to_the_defaults_and_says_why() -> None:
    policy, error = usable_policy({"outbound": {"max_attempts": 0}})
    assert policy == OutboundPolicy()
    assert "max_attempts" in error
    assert usable_policy({"outbound": {"max_attempts": 3}}) == (
        OutboundPolicy(max_attempts=3),
        "",
    )


def test_log_entries_and_reasons() -> None:
    entry = log_entry(T0, "rcpt", "x" * 5000, outcome="temporary")
    assert entry == {
        "at": T0.isoformat(),
        "stage": "rcpt",
        "detail": "x" * 1000,
        "outcome": "temporary",
    }
    assert gave_up_reason(8, "451 later") == "gave up after 8 attempts: 451 later"
