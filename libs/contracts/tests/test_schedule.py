from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postdesk_contracts.schedule import Schedule, ScheduleError

OFFICE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
BERLIN = Schedule.parse(OFFICE, "Europe/Berlin", holidays=["2026-12-25"])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_empty_hours_mean_always_open() -> None:
    always = Schedule.parse({}, "UTC")
    at = utc(2026, 11, 28, 3)
    assert always.is_open(at)
    assert always.add(at, 3600) == at + timedelta(hours=1)
    assert always.seconds_between(at, at + timedelta(days=1)) == 86_400


def test_office_hours_in_the_users_zone() -> None:
    # Wednesday 2026-11-25: Berlin is UTC+1 in winter
    assert BERLIN.is_open(utc(2026, 11, 25, 8, 0))
    assert not BERLIN.is_open(utc(2026, 11, 25, 7, 59))
    assert not BERLIN.is_open(utc(2026, 11, 25, 16, 0))
    assert not BERLIN.is_open(utc(2026, 11, 28, 10))  # Saturday
    assert not BERLIN.is_open(utc(2026, 12, 25, 10))  # holiday


def test_adding_business_time_skips_nights_weekends_and_holidays() -> None:
    friday_afternoon = utc(2026, 11, 27, 15, 0)  # 16:00 Berlin
    # one hour left on Friday, seven more on Monday
    assert BERLIN.add(friday_afternoon, 8 * 3600) == utc(2026, 11, 30, 15, 0)
    thursday_eve = utc(2026, 12, 24, 15, 30)  # 16:30 Berlin, the 25th is a holiday
    assert BERLIN.add(thursday_eve, 3600) == utc(2026, 12, 28, 8, 30)
    assert BERLIN.next_open(utc(2026, 11, 28, 12)) == utc(2026, 11, 30, 8, 0)


def test_daylight_saving_keeps_local_hours() -> None:
    # 2026-03-30 is the Monday after Europe springs forward: 09:00 Berlin is 07:00 UTC
    assert BERLIN.is_open(utc(2026, 3, 30, 7, 0))
    assert not BERLIN.is_open(utc(2026, 3, 30, 6, 59))
    assert BERLIN.seconds_between(utc(2026, 3, 27, 0), utc(2026, 3, 31, 0)) == 16 * 3600


def test_night_shift_runs_past_midnight() -> None:
    nights = Schedule.parse({"mon": [["22:00", "06:00"]]}, "UTC")
    assert nights.is_open(utc(2026, 11, 23, 23))
    assert nights.is_open(utc(2026, 11, 24, 5, 59))  # Tuesday morning, Monday's shift
    assert not nights.is_open(utc(2026, 11, 24, 6, 0))
    assert nights.add(utc(2026, 11, 24, 5), 2 * 3600) == utc(2026, 11, 30, 23, 0)


def test_full_day_with_2400() -> None:
    sunday = Schedule.parse({"sun": [["00:00", "24:00"]]}, "UTC")
    assert sunday.seconds_between(utc(2026, 11, 29, 0), utc(2026, 12, 6, 0)) == 86_400


@pytest.mark.parametrize(
    ("hours", "zone"),
    [
        ({"monday": [["09:00", "17:00"]]}, "UTC"),
        ({"mon": [["9:00", "17:00"]]}, "UTC"),
        ({"mon": [["09:00"]]}, "UTC"),
        ({"mon": "09:00-17:00"}, "UTC"),
        ({"mon": []}, "UTC"),
        ({"mon": [["09:00", "17:00"]]}, "Mars/Olympus"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(hours: dict[str, object], zone: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(hours, zone)


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=60 * 3600),
)
def test_add_and_seconds_between_agree(start: datetime, seconds: int) -> None:
    due = BERLIN.add(start, seconds)
    assert due >= start
    assert BERLIN.seconds_between(start, due) == pytest.approx(seconds)
