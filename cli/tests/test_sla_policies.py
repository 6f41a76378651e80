"""SLA policies: the rules, the clocks the router starts from what they store, and
`postdesk sla` as a process."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from postdesk_cli import sla_rules as rules
from postdesk_cli.routing_rules import SettingsError
from postdesk_router.sla_db import start_clocks
from postdesk_runtime import Sessions, make_engine, make_sessions
from postdesk_schema import EmailAccount, SlaPolicy, SlaTimer, Ticket
from sqlalchemy import func, select
from sqlmodel import col

from .tenancy import Tenancy, postdesk, seed_tenancy

pytestmark = pytest.mark.integration

WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# Monday 2026-03-02, 16:30 in Berlin (UTC+1); the Tuesday after is a holiday
MONDAY_1630_BERLIN = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
TUESDAY = "2026-03-03"
STANDARD = rules.PolicySpec(name="Standard", first_response_minutes=60, resolution_minutes=480)


async def clocks(
    sessions: Sessions, seed: Tenancy, account: EmailAccount, at: datetime
) -> dict[str, tuple[uuid.UUID, datetime, datetime]]:
    """Open a ticket of `account` at `at` and start its clocks as the router does:
    target -> (policy id, due_at, warn_at)."""
    async with sessions() as session, session.begin():
        number = (
            await session.scalar(
                select(func.coalesce(func.max(col(Ticket.number)), 0)).where(
                    col(Ticket.tenant_id) == seed.tenant.id
                )
            )
            or 0
        ) + 1
        ticket = Ticket(
            tenant_id=seed.tenant.id,
            number=number,
            account_id=account.id,
            department_id=account.department_id,
            subject="Printer on fire",
            customer_email="carol@customer.example",
            created_at=at,
        )
        session.add(ticket)
        await session.flush()
        await start_clocks(
            session,
            tenant_id=seed.tenant.id,
            ticket_id=ticket.id,
            account_id=account.id,
            department_id=account.department_id,
            priority="normal",
            at=at,
        )
        timers = await session.scalars(select(SlaTimer).where(col(SlaTimer.ticket_id) == ticket.id))
        return {t.target: (t.policy_id, t.due_at, t.warn_at) for t in timers.all()}


class TestRules:
    async def test_the_router_starts_the_most_specific_policy_added(
        self, sessions: Sessions
    ) -> None:
        """A Support ticket gets the department's business-hours policy (Monday 16:30 + 60
        working minutes, Tuesday off: Wednesday 09:30); a Sales ticket the tenant-wide one."""
        seed = await seed_tenancy(sessions)
        standard = await rules.add_policy(sessions, seed.slug, STANDARD)
        support = await rules.add_policy(
            sessions,
            seed.slug,
            rules.PolicySpec(
                name="Support hours",
                department="support",
                first_response_minutes=60,
                business_hours=True,
                timezone="Europe/Berlin",
                working_hours=WEEKDAYS,
                holidays=[TUESDAY, " 2026-12-25", TUESDAY],
                warning_percent=50,
            ),
        )
        assert (support.department, support.holidays) == ("Support", (TUESDAY, "2026-12-25"))
        assert (support.account, support.priority, support.resolution_minutes) == (
            None,
            None,
            None,
        )

        cs = await clocks(sessions, seed, seed.cs, MONDAY_1630_BERLIN)
        assert cs == {
            "first_response": (
                support.id,
                datetime(2026, 3, 4, 8, 30, tzinfo=UTC),
                datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
            )
        }  # the department policy applies whole: no resolution clock from the tenant-wide one
        sales = await clocks(sessions, seed, seed.sales_account, MONDAY_1630_BERLIN)
        assert sales == {
            "first_response": (
                standard.id,
                MONDAY_1630_BERLIN + timedelta(minutes=60),
                MONDAY_1630_BERLIN + timedelta(minutes=48),
            ),
            "resolution": (
                standard.id,
                MONDAY_1630_BERLIN + timedelta(minutes=480),
                MONDAY_1630_BERLIN + timedelta(minutes=384),
            ),
        }
        assert [p.id for p in await rules.list_policies(sessions, seed.slug)] == [
            standard.id,
            support.id,
        ]

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"name": "  "}, "needs a name"),
            ({"first_response_minutes": None, "resolution_minutes": None}, "needs a target"),
            ({"first_response_minutes": 0}, "first_response_minutes must be between 1 and"),
            ({"resolution_minutes": 600_000}, "resolution_minutes must be between 1 and 525600"),
            ({"priority": "critical"}, "priority must be one of low, normal, high, urgent"),
            ({"warning_percent": 0}, "warning_percent must be between 1 and 100"),
            ({"warning_percent": 120}, "warning_percent must be between 1 and 100"),
            ({"timezone": "Europe/Berlin"}, "count only for a business-hours policy"),
            ({"working_hours": WEEKDAYS}, "count only for a business-hours policy"),
            ({"holidays": [TUESDAY]}, "count only for a business-hours policy"),
            ({"business_hours": True}, "needs working hours"),
            (
                {"business_hours": True, "working_hours": WEEKDAYS, "timezone": "Nowhere"},
                "unknown timezone 'Nowhere'",
            ),
            (
                {"business_hours": True, "working_hours": {"mon": [["17:00"]]}},
                r"working hours: mon: expected \[start, end\]",
            ),
            (
                {"business_hours": True, "working_hours": WEEKDAYS, "holidays": ["03/03/2026"]},
                "holiday '03/03/2026' is not a date",
            ),
            (
                {
                    "business_hours": True,
                    "working_hours": {"mon": [["09:00", "09:30"]]},
                    "resolution_minutes": 525_600,
                },
                "does not end within a year of these working hours",
            ),
            ({"account": "nobody@nowhere.example"}, "no email account"),
            ({"department": "Billing"}, "no department 'Billing'"),
        ],
    )
    async def test_refused_policies_are_not_stored(
        self, sessions: Sessions, changes: dict[str, Any], message: str
    ) -> None:
        seed = await seed_tenancy(sessions)
        with pytest.raises(SettingsError, match=message):
            await rules.add_policy(sessions, seed.slug, replace(STANDARD, **changes))
        assert await rules.list_policies(sessions, seed.slug) == []

    async def test_account_and_department_must_be_the_tenants_and_agree(
        self, sessions: Sessions
    ) -> None:
        seed, other = await seed_tenancy(sessions), await seed_tenancy(sessions)
        with pytest.raises(SettingsError, match=f"is not tenant {seed.slug}'s"):
            await rules.add_policy(sessions, seed.slug, replace(STANDARD, account=other.cs.address))
        with pytest.raises(SettingsError, match="not in department 'Sales'"):
            await rules.add_policy(
                sessions, seed.slug, replace(STANDARD, account=seed.cs.address, department="Sales")
            )
        with pytest.raises(SettingsError, match="no tenant with slug"):
            await rules.add_policy(sessions, "no-such-tenant", STANDARD)
        both = await rules.add_policy(
            sessions, seed.slug, replace(STANDARD, account=seed.cs.address, department="Support")
        )
        assert (both.account, both.department) == (seed.cs.address, "Support")

    async def test_one_active_policy_per_scope_and_disabled_ones_stop_applying(
        self, sessions: Sessions
    ) -> None:
        """A second policy of the same scope is refused until the first is disabled; a
        disabled policy no longer starts clocks."""
        seed = await seed_tenancy(sessions)
        first = await rules.add_policy(sessions, seed.slug, STANDARD)
        with pytest.raises(SettingsError, match=f"active policy 'Standard' \\({first.id}\\)"):
            await rules.add_policy(sessions, seed.slug, replace(STANDARD, name="Faster"))
        urgent = await rules.add_policy(sessions, seed.slug, replace(STANDARD, priority="urgent"))
        assert urgent.priority == "urgent"  # another scope

        disabled, was_active = await rules.disable_policy(sessions, first.id)
        assert (disabled.is_active, was_active) == (False, True)
        assert (await rules.disable_policy(sessions, first.id))[1] is False
        assert await clocks(sessions, seed, seed.cs, MONDAY_1630_BERLIN) == {}
        faster = await rules.add_policy(
            sessions, seed.slug, replace(STANDARD, name="Faster", resolution_minutes=None)
        )
        assert set(await clocks(sessions, seed, seed.cs, MONDAY_1630_BERLIN)) == {"first_response"}
        listed = await rules.list_policies(sessions, seed.slug)
        assert [(p.id, p.is_active) for p in listed] == [
            (first.id, False),
            (urgent.id, True),
            (faster.id, True),
        ]
        with pytest.raises(SettingsError, match="no SLA policy"):
            await rules.disable_policy(sessions, uuid.uuid4())

    async def test_concurrent_adds_of_one_scope_store_one_policy(self, database_url: str) -> None:
        """Adds racing for one scope (eight at once, on five tenants): one wins each time."""
        engine = make_engine(database_url, pool_size=8)
        sessions = make_sessions(engine)
        try:
            for _ in range(5):
                seed = await seed_tenancy(sessions)
                results = await asyncio.gather(
                    *(
                        rules.add_policy(sessions, seed.slug, replace(STANDARD, name=f"P{i}"))
                        for i in range(8)
                    ),
                    return_exceptions=True,
                )
                added = [r for r in results if isinstance(r, rules.PolicyView)]
                refused = [r for r in results if isinstance(r, SettingsError)]
                assert (len(added), len(refused)) == (1, 7), results
                async with sessions() as session:
                    stored = await session.scalar(
                        select(func.count())
                        .select_from(SlaPolicy)
                        .where(col(SlaPolicy.tenant_id) == seed.tenant.id)
                    )
                assert stored == 1
        finally:
            await engine.dispose()


async def test_console_script_adds_lists_disables_and_refuses_with_exit_2(
    sessions: Sessions, database_url: str, tmp_path: Path
) -> None:
    """`postdesk sla add` prints the new id alone on stdout; list shows one line a policy;
    a refusal is one error line, exit code 2, and nothing stored."""
    seed = await seed_tenancy(sessions)
    hours = tmp_path / "hours.json"
    hours.write_text(json.dumps(WEEKDAYS))
    code, out, err = await postdesk(
        database_url, "sla", "add", seed.slug, "--name", "Support hours",
        "--department", "Support", "--priority", "high", "--first-response-minutes", "30",
        "--resolution-minutes", "240", "--business-hours", "--timezone", "Europe/Berlin",
        "--working-hours", f"@{hours}", "--holiday", TUESDAY, "--warning-percent", "75",
    )  # fmt: skip
    assert code == 0, err
    policy_id = uuid.UUID(out.strip())
    async with sessions() as session:
        row = await session.get_one(SlaPolicy, policy_id)
    assert (row.tenant_id, row.department_id, row.priority) == (
        seed.tenant.id,
        seed.support.id,
        "high",
    )
    assert (row.first_response_minutes, row.resolution_minutes, row.warning_percent) == (
        30,
        240,
        75,
    )
    assert (row.business_hours, row.timezone, row.working_hours, row.holidays) == (
        True,
        "Europe/Berlin",
        WEEKDAYS,
        [TUESDAY],
    )

    code, out, err = await postdesk(database_url, "sla", "list", seed.slug)
    assert code == 0, err
    assert out.split("\t")[:7] == [
        str(policy_id),
        "Support hours",
        "department Support",
        "priority high",
        "first response 30 min",
        "resolution 240 min",
        'business hours Europe/Berlin {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]],'
        ' "wed": [["09:00", "17:00"]], "thu": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]]},'
        f" holidays {TUESDAY}",
    ]
    assert out.endswith("\twarn at 75%\tactive\n")

    refusals = [
        (("sla", "add", seed.slug, "--name", "X"), "error: a policy needs a target"),
        (
            ("sla", "add", seed.slug, "--name", "X", "--first-response-minutes", "9",
             "--timezone", "Europe/Berlin"),
            "error: working hours, timezone and holidays count only for a business-hours policy",
        ),
        (
            ("sla", "add", seed.slug, "--name", "X", "--first-response-minutes", "9",
             "--department", "Support", "--priority", "high"),
            "error: active policy 'Support hours'",
        ),
        (
            ("sla", "add", seed.slug, "--name", "X", "--first-response-minutes", "soon"),
            "argument --first-response-minutes: invalid int value",
        ),
        (("sla", "add", seed.slug, "--name", "X", "--priority", "asap"), "invalid choice"),
        (("sla", "disable", "not-an-id"), "argument policy_id: invalid UUID value"),
        (("sla", "disable", str(uuid.uuid4())), "error: no SLA policy"),
    ]  # fmt: skip
    for args, expected in refusals:
        code, out, err = await postdesk(database_url, *args)
        assert (code, out) == (2, ""), (args, out, err)
        assert expected in err, (args, err)
    assert len(await rules.list_policies(sessions, seed.slug)) == 1

    code, out, err = await postdesk(database_url, "sla", "disable", str(policy_id))
    assert (code, out) == (
        0,
        f"policy {policy_id} (Support hours) of tenant {seed.slug} disabled\n",
    ), err
    code, out, _ = await postdesk(database_url, "sla", "list", seed.slug)
    assert out.endswith("\tdisabled\n")
