"""The SLA policy rules without a database: settings as stored, refusals, scope agreement.
(One active policy per scope, under the lock, is exercised by the CLI's and the admin
API's tests against PostgreSQL.)"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from postdesk_runtime.sla_policies import (
    ForeignScopeError,
    InvalidPolicyError,
    PolicySettings,
    ScopeTakenError,
    apply_settings,
    check_scope,
    check_settings,
    normalise_holidays,
    settings_of,
)
from postdesk_schema import Department, EmailAccount, SlaPolicy

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
CALENDAR = PolicySettings(
    name="Standard",
    priority=None,
    first_response_minutes=60,
    resolution_minutes=480,
    business_hours=False,
    timezone="UTC",
    working_hours={},
    holidays=(),
    warning_percent=80,
)
BUSINESS = replace(CALENDAR, business_hours=True, timezone="Europe/Berlin", working_hours=WEEKDAYS)


def test_holidays_are_stored_as_sorted_unique_iso_dates() -> None:
    assert normalise_holidays([" 2026-12-25", date(2026, 1, 1), "2026-12-25"]) == [
        "2026-01-01",
        "2026-12-25",
    ]
    for bad in ("03/03/2026", "2026-02-30", "2026-3-3"):
        with pytest.raises(InvalidPolicyError, match="is not a date"):
            normalise_holidays([bad])


def test_settings_are_given_as_stored() -> None:
    """Name and timezone stripped, holidays normalised; a calendar-time policy's blank
    timezone is UTC."""
    calendar = check_settings(replace(CALENDAR, name="  Standard ", timezone=" "), now=NOW)
    assert (calendar.name, calendar.timezone, calendar.working_hours, calendar.holidays) == (
        "Standard",
        "UTC",
        {},
        [],
    )
    business = check_settings(
        replace(BUSINESS, timezone=" Europe/Berlin ", holidays=["2026-03-03", date(2026, 3, 3)]),
        now=NOW,
    )
    assert (business.timezone, business.working_hours, business.holidays) == (
        "Europe/Berlin",
        WEEKDAYS,
        ["2026-03-03"],
    )


@pytest.mark.parametrize(
    ("base", "changes", "message"),
    [
        (CALENDAR, {"name": " "}, "needs a name of 1 to 200"),
        (CALENDAR, {"name": "a\x00b"}, "needs a name"),
        (CALENDAR, {"name": "x" * 201}, "needs a name"),
        (CALENDAR, {"priority": "critical"}, "priority must be one of low, normal"),
        (
            CALENDAR,
            {"first_response_minutes": None, "resolution_minutes": None},
            "needs a target",
        ),
        (CALENDAR, {"first_response_minutes": 0}, "first_response_minutes must be between 1"),
        (CALENDAR, {"resolution_minutes": 525_601}, "between 1 and 525600"),
        (CALENDAR, {"resolution_minutes": True}, "must be a whole number"),
        (CALENDAR, {"warning_percent": 101}, "warning_percent must be between 1 and 100"),
        (CALENDAR, {"timezone": "Europe/Berlin"}, "count only for a business-hours policy"),
        (CALENDAR, {"working_hours": WEEKDAYS}, "count only for a business-hours policy"),
        (CALENDAR, {"holidays": ["2026-03-03"]}, "count only for a business-hours policy"),
        (BUSINESS, {"timezone": " "}, "timezone is empty"),
        (BUSINESS, {"timezone": "Nowhere"}, "unknown timezone 'Nowhere'"),
        (BUSINESS, {"working_hours": {}}, "needs working hours"),
        (BUSINESS, {"working_hours": [["09:00", "17:00"]]}, "must be a JSON object of days"),
        (BUSINESS, {"working_hours": {"mon": [["9", "5"]]}}, "working hours: bad time"),
        (BUSINESS, {"holidays": ["tomorrow"]}, "holiday 'tomorrow' is not a date"),
        (
            BUSINESS,
            {"working_hours": {"mon": [["09:00", "09:30"]]}, "resolution_minutes": 525_600},
            "a target of 525600 minutes does not end within a year",
        ),
    ],
)
def test_refusals_say_why(base: PolicySettings, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        check_settings(replace(base, **changes), now=NOW)


def test_checked_settings_round_trip_through_a_row() -> None:
    policy = SlaPolicy(tenant_id=uuid.uuid4(), name="draft")
    checked = check_settings(replace(BUSINESS, holidays=[date(2026, 3, 3)]), now=NOW)
    apply_settings(policy, checked)
    assert policy.holidays == ["2026-03-03"]
    assert check_settings(settings_of(policy), now=NOW) == checked


def test_scope_is_the_tenants_and_agrees() -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    support = Department(id=uuid.uuid4(), tenant_id=tenant, name="Support")
    sales = Department(id=uuid.uuid4(), tenant_id=tenant, name="Sales")
    cs = EmailAccount(tenant_id=tenant, address="cs@acme.test", department_id=support.id)
    check_scope(tenant, cs, support)
    check_scope(tenant, None, sales)
    check_scope(tenant, None, None)
    with pytest.raises(InvalidPolicyError, match="not in department 'Sales': the policy would"):
        check_scope(tenant, cs, sales)
    with pytest.raises(ForeignScopeError) as foreign_account:
        check_scope(other, cs, None)
    assert (foreign_account.value.kind, foreign_account.value.what) == (
        "email account",
        "email account cs@acme.test",
    )
    with pytest.raises(ForeignScopeError) as foreign_department:
        check_scope(other, None, sales)
    assert foreign_department.value.kind == "department"


def test_a_taken_scope_names_the_policy() -> None:
    policy_id = uuid.uuid4()
    error = ScopeTakenError("Standard", policy_id)
    assert (error.policy_name, error.policy_id) == ("Standard", policy_id)
    assert str(error) == f"active policy 'Standard' ({policy_id}) already has this scope"
