"""The daily digest: when a day ends (pure) and the scan against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import pytest_asyncio
from postdesk_contracts.schedule import ScheduleError
from postdesk_notifier.digest import (
    AccountActivity,
    AccountDigest,
    WaitingTicket,
    digest_outbound_id,
    digest_subject,
    ended_days,
    format_age,
    local_day_start,
    working_day_end,
)
from postdesk_notifier.digest_scan import send_due_digests
from postdesk_runtime import Sessions, make_engine, make_sessions
from postdesk_schema import EmailAccount, SlaPolicy, SlaTimer, Tenant
from postdesk_testing import IsolatedDatabase
from sqlalchemy import update
from sqlmodel import col

from .digest_factories import (
    WEEKDAYS_9_TO_5,
    Office,
    digest_of,
    digest_request,
    office_maker,
)

MONDAY = date(2026, 6, 1)
SATURDAY = date(2026, 6, 6)
NewOffice = Callable[[], Awaitable[Office]]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def digest_database() -> AsyncIterator[str]:
    """A database of this module's own: the scan reads every tenant's opted-in users, and
    other modules' tests leave some (with no working hours, due at 17:00 on any day)."""
    database = IsolatedDatabase()
    yield await database.create()
    await database.drop()


@pytest_asyncio.fixture(loop_scope="session")
async def sessions(digest_database: str) -> AsyncIterator[Sessions]:
    engine = make_engine(digest_database, pool_size=4)
    yield make_sessions(engine)
    await engine.dispose()


@pytest_asyncio.fixture
async def new_office(sessions: Sessions) -> AsyncIterator[NewOffice]:
    async with office_maker(sessions) as make:
        yield make


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


class TestWorkingDayEnd:
    """When a user's working day ends."""

    def test_last_span_end_of_the_day(self) -> None:
        """A split day ends at the end of its last span."""
        hours = {"mon": [["13:00", "18:30"], ["08:00", "12:00"]]}
        assert working_day_end(hours, "UTC", MONDAY) == at(MONDAY, 18, 30)

    def test_in_the_users_timezone(self) -> None:
        """09:00-18:00 in Tokyo (UTC+9) ends at 09:00 UTC; 09:00-17:00 in Los Angeles
        (UTC-7 in June) at 00:00 UTC the next day."""
        assert working_day_end(
            WEEKDAYS_9_TO_5 | {"mon": [["09:00", "18:00"]]}, "Asia/Tokyo", MONDAY
        ) == at(MONDAY, 9)
        assert working_day_end(WEEKDAYS_9_TO_5, "America/Los_Angeles", MONDAY) == at(
            MONDAY + timedelta(days=1), 0
        )

    def test_night_shift_ends_the_next_morning(self) -> None:
        """A span past midnight ends the day it started on the next morning."""
        assert working_day_end({"mon": [["22:00", "06:00"]]}, "UTC", MONDAY) == at(
            MONDAY + timedelta(days=1), 6
        )

    def test_no_hours_ends_at_five_local(self) -> None:
        """A user without hours finishes at 17:00 local, every day."""
        assert working_day_end({}, "Asia/Tokyo", SATURDAY) == at(SATURDAY, 8)

    def test_day_off_and_holiday_have_no_end(self) -> None:
        """No spans that weekday, or a holiday: no digest."""
        assert working_day_end(WEEKDAYS_9_TO_5, "UTC", SATURDAY) is None
        assert working_day_end(WEEKDAYS_9_TO_5, "UTC", MONDAY, ["2026-06-01"]) is None

    def test_unusable_hours_raise(self) -> None:
        """Hours the schedule refuses are reported, not guessed at."""
        with pytest.raises(ScheduleError):
            working_day_end({"monday": [["09:00", "17:00"]]}, "UTC", MONDAY)

    def test_ended_days_in_the_catch_up_period(self) -> None:
        """Only days whose end falls in (now - catch-up, now] are due; a night shift's end
        the next morning belongs to the day it began."""
        night = {"mon": [["22:00", "06:00"]], "tue": [["09:00", "17:00"]]}
        tuesday = MONDAY + timedelta(days=1)
        found = ended_days("UTC", night, at(tuesday, 6, 30), timedelta(hours=1))
        assert [(d.local_date, d.end) for d in found] == [(MONDAY, at(tuesday, 6))]
        assert ended_days("UTC", night, at(tuesday, 7, 1), timedelta(hours=1)) == []
        assert ended_days("UTC", night, at(tuesday, 5, 59), timedelta(hours=1)) == []

    def test_unusable_schedule_ends_at_five_with_a_reason(self) -> None:
        """Broken hours still end the day once, at 17:00, saying why there is no digest."""
        [day] = ended_days("Nowhere/City", {"mon": "x"}, at(MONDAY, 17, 5), timedelta(hours=1))
        assert (day.local_date, day.end) == (MONDAY, at(MONDAY, 17))
        assert day.skip_reason is not None
        assert day.skip_reason.startswith("working hours unusable")

    def test_local_day_start(self) -> None:
        assert local_day_start(MONDAY, "Asia/Tokyo") == at(MONDAY, 0) - timedelta(hours=9)


class TestText:
    """What the digest says."""

    def test_ages(self) -> None:
        assert [format_age(s) for s in (59, 45 * 60, 3 * 3600 + 1200, 2 * 86400 + 4 * 3600)] == [
            "0m",
            "45m",
            "3h 20m",
            "2d 4h",
        ]

    def test_subject_sums_the_mailboxes(self) -> None:
        digests = [
            AccountDigest(uuid.uuid4(), "a@x", AccountActivity(new_tickets=1), 0, ()),
            AccountDigest(
                uuid.uuid4(),
                "b@x",
                AccountActivity(new_tickets=2, customer_messages=1),
                0,
                (WaitingTicket(3, "Hi", at(MONDAY, 9)),),
            ),
        ]
        assert digest_subject(MONDAY, digests) == (
            "Your postdesk day, 2026-06-01: 3 new tickets, 1 customer message"
        )


@pytest.mark.integration
async def test_one_digest_after_the_day_ends(sessions: Sessions, new_office: NewOffice) -> None:
    """Nothing before 17:00; at 17:00 one outbound.requested to the login address; a later
    scan the same day sends nothing more."""
    office = await new_office()
    user = await office.user("pat")

    assert await send_due_digests(sessions, at(MONDAY, 16, 59, 59), 50) == 0
    assert await digest_of(sessions, user.id, MONDAY) is None

    assert await send_due_digests(sessions, at(MONDAY, 17, 0, 30), 50) == 1
    row = await digest_of(sessions, user.id, MONDAY)
    assert row is not None
    assert row.outbound_id == digest_outbound_id(user.id, MONDAY)
    envelope = await digest_request(sessions, user.id, MONDAY)
    assert envelope is not None
    payload = envelope["payload"]
    assert envelope["tenant_id"] == str(office.tenant.id)
    assert (payload["kind"], payload["auto_submitted"], payload["ticket_id"]) == (
        "notification",
        "auto-generated",
        None,
    )
    assert payload["to"] == [{"name": "Pat", "email": user.email}]
    assert payload["account_id"] == str(office.account.id)
    assert payload["outbound_id"] == str(row.outbound_id)

    assert await send_due_digests(sessions, at(MONDAY, 17, 1, 30), 50) == 0
    assert await send_due_digests(sessions, at(MONDAY, 22, 0), 50) == 0


@pytest.mark.integration
async def test_concurrent_scans_send_one(sessions: Sessions, new_office: NewOffice) -> None:
    """Two scanners at the same moment (two replicas) claim each digest once."""
    office = await new_office()
    users = [await office.user(f"agent{i}") for i in range(5)]
    now = at(MONDAY + timedelta(days=1), 17, 0, 5)

    claimed = await asyncio.gather(
        send_due_digests(sessions, now, 50), send_due_digests(sessions, now, 50)
    )

    assert sum(claimed) == 5
    for user in users:
        assert await digest_request(sessions, user.id, now.date()) is not None


@pytest.mark.integration
async def test_day_off_and_default_off(sessions: Sessions, new_office: NewOffice) -> None:
    """No digest on a day off, nor for a user who did not opt in (or opted out)."""
    office = await new_office()
    worker = await office.user("worker")
    default_off = await office.user("quiet", preferences={})
    opted_out = await office.user("out", preferences={"digest": {"email": False}})

    for hour in (17, 20, 23):
        await send_due_digests(sessions, at(SATURDAY, hour, 0, 30), 50)
    assert await digest_of(sessions, worker.id, SATURDAY) is None

    wednesday = MONDAY + timedelta(days=2)
    await send_due_digests(sessions, at(wednesday, 17, 0, 30), 50)
    assert await digest_of(sessions, worker.id, wednesday) is not None
    for user in (default_off, opted_out):
        assert await digest_of(sessions, user.id, wednesday) is None


@pytest.mark.integration
async def test_timezones(sessions: Sessions, new_office: NewOffice) -> None:
    """Tokyo's 18:00 and Los Angeles' 17:00 are each their user's end of day."""
    office = await new_office()
    thursday = MONDAY + timedelta(days=3)
    tokyo = await office.user("kenji", timezone="Asia/Tokyo", hours={"thu": [["09:00", "18:00"]]})
    los_angeles = await office.user("ana", timezone="America/Los_Angeles")

    await send_due_digests(sessions, at(thursday, 8, 59), 50)  # 17:59 in Tokyo
    assert await digest_of(sessions, tokyo.id, thursday) is None
    await send_due_digests(sessions, at(thursday, 9, 0, 10), 50)  # 18:00 in Tokyo
    assert await digest_of(sessions, tokyo.id, thursday) is not None
    assert await digest_of(sessions, los_angeles.id, thursday) is None

    friday = thursday + timedelta(days=1)
    await send_due_digests(sessions, at(friday, 0, 0, 10) - timedelta(minutes=1), 50)
    assert await digest_of(sessions, los_angeles.id, thursday) is None  # 16:59 in LA
    await send_due_digests(sessions, at(friday, 0, 0, 10), 50)  # 17:00 Thursday in LA
    row = await digest_of(sessions, los_angeles.id, thursday)
    assert row is not None
    assert row.summary["period_start"] == "2026-06-04T07:00:00+00:00"
    # Friday's day in Tokyo has no hours: no Friday digest for kenji at any time
    await send_due_digests(sessions, at(friday, 9, 0, 10), 50)
    assert await digest_of(sessions, tokyo.id, friday) is None


@pytest.mark.integration
async def test_address_that_loops_is_skipped(sessions: Sessions, new_office: NewOffice) -> None:
    """A login address postdesk receives mail for gets no digest: the row says why."""
    office = await new_office()
    same = await office.user("same", email=office.account.address)
    plus = await office.user("plus", email=office.account.address.replace("@", "+tok123@"))
    friday = MONDAY + timedelta(days=4)

    await send_due_digests(sessions, at(friday, 17, 0, 30), 50)

    for user, says in ((same, "is this tenant's account"), (plus, "plus/reply-token form")):
        row = await digest_of(sessions, user.id, friday)
        assert row is not None
        assert row.outbound_id is None
        assert "loop" in row.summary["skipped"]
        assert says in row.summary["skipped"]
        assert await digest_request(sessions, user.id, friday) is None


@pytest.mark.integration
async def test_sender_account(sessions: Sessions, new_office: NewOffice) -> None:
    """The tenant's notifications_from_account_id while active, else its first shared
    mailbox; a tenant with neither records a skip."""
    office = await new_office()
    other = await office.mailbox("noreply")
    user = await office.user("pat")
    days = [MONDAY + timedelta(weeks=1, days=i) for i in range(3)]

    async def set_from(account_id: uuid.UUID, *, active: bool = True) -> None:
        async with sessions() as session, session.begin():
            await session.execute(
                update(Tenant)
                .where(col(Tenant.id) == office.tenant.id)
                .values(settings={"notifications_from_account_id": str(account_id)})
            )
            await session.execute(
                update(EmailAccount)
                .where(col(EmailAccount.id) == account_id)
                .values(is_active=active)
            )

    await set_from(other.id)
    await send_due_digests(sessions, at(days[0], 17, 0, 30), 50)
    first = await digest_request(sessions, user.id, days[0])
    assert first is not None
    assert first["payload"]["account_id"] == str(other.id)

    await set_from(other.id, active=False)
    await send_due_digests(sessions, at(days[1], 17, 0, 30), 50)
    second = await digest_request(sessions, user.id, days[1])
    assert second is not None
    assert second["payload"]["account_id"] == str(office.account.id)

    await set_from(office.account.id, active=False)  # no active shared mailbox is left
    await send_due_digests(sessions, at(days[2], 17, 0, 30), 50)
    row = await digest_of(sessions, user.id, days[2])
    assert row is not None
    assert row.summary == {"skipped": "the tenant has no active account to send notifications from"}


@pytest.mark.integration
async def test_summary_counts(sessions: Sessions, new_office: NewOffice) -> None:
    """Per mailbox the user receives: today's new tickets and customer messages, what is
    open now, the user's own open tickets, today's SLA breaches, the longest waiting."""
    office = await new_office()
    quiet = await office.mailbox("sales")
    unreceived = await office.mailbox("billing")
    day = MONDAY + timedelta(weeks=2)
    yesterday = day - timedelta(days=1)
    user = await office.user("pat", accounts=(office.account, quiet))
    colleague = await office.user("sam", preferences={})
    await office.assign(unreceived, user, can_receive=False)

    # t1: new today, the user's, one customer message, unanswered
    t1 = await office.ticket(at(day, 8), assignee_id=user.id, last_customer_message_at=at(day, 8))
    await office.message(t1, at(day, 8))
    # t2: from yesterday, written to again today, the colleague's, unanswered
    t2 = await office.ticket(
        at(yesterday, 10),
        assignee_id=colleague.id,
        last_customer_message_at=at(day, 11),
        last_message_at=at(day, 11),
    )
    await office.message(t2, at(yesterday, 10))
    await office.message(t2, at(day, 11))
    # t3: new today, the user's, answered and pending on the customer
    t3 = await office.ticket(
        at(day, 10),
        assignee_id=user.id,
        status="pending",
        last_customer_message_at=at(day, 10),
        last_agent_reply_at=at(day, 10, 30),
        last_message_at=at(day, 10, 30),
    )
    await office.message(t3, at(day, 10))
    await office.message(t3, at(day, 10, 30), direction="outbound")
    # t4: resolved days ago; t5: opened today, merged into t2; t6: another mailbox's
    t4 = await office.ticket(at(day - timedelta(days=3), 9), status="resolved")
    await office.ticket(at(day, 12), merged_into_id=t2.id, status="closed")
    t6 = await office.ticket(at(day, 9), account=unreceived, assignee_id=user.id)
    await office.message(t6, at(day, 9))
    policy = SlaPolicy(tenant_id=office.tenant.id, name="std", first_response_minutes=60)
    await office.add(policy)
    for ticket, breached in ((t2, at(day, 9)), (t4, at(yesterday, 9)), (t6, at(day, 9))):
        await office.add(
            SlaTimer(
                tenant_id=office.tenant.id,
                ticket_id=ticket.id,
                policy_id=policy.id,
                target="first_response",
                breached_at=breached,
            )
        )

    now = at(day, 17, 0, 30)
    await send_due_digests(sessions, now, 50)

    row = await digest_of(sessions, user.id, day)
    assert row is not None
    main, sales = row.summary["accounts"]
    assert (main["address"], sales["address"]) == (office.account.address, quiet.address)
    assert {k: main[k] for k in COUNTS} == {
        "new_tickets": 2,
        "customer_messages": 3,
        "open_or_pending": 3,
        "assigned_to_user_open": 2,
        "sla_breaches": 1,
    }
    assert [(w["number"], w["age_seconds"]) for w in main["oldest_waiting"]] == [
        (t1.number, 9 * 3600 + 30),
        (t2.number, 6 * 3600 + 30),
    ]
    assert {k: sales[k] for k in COUNTS} == dict.fromkeys(COUNTS, 0)
    assert sales["oldest_waiting"] == []
    envelope = await digest_request(sessions, user.id, day)
    assert envelope is not None
    text = envelope["payload"]["text"]
    assert envelope["payload"]["subject"] == (
        f"Your postdesk day, {day.isoformat()}: 2 new tickets, 3 customer messages"
    )
    assert f"#{t1.number}       9h  Question {t1.number}" in text
    assert unreceived.address not in text


COUNTS = (
    "new_tickets",
    "customer_messages",
    "open_or_pending",
    "assigned_to_user_open",
    "sla_breaches",
)


@pytest.mark.integration
async def test_night_shift_and_broken_hours(sessions: Sessions, new_office: NewOffice) -> None:
    """A night shift's digest goes out the next morning under the date it began; hours the
    schedule refuses are recorded as skipped at 17:00 and break no one else's scan."""
    office = await new_office()
    day = MONDAY + timedelta(weeks=3)
    night = await office.user("owl", hours={"mon": [["22:00", "06:00"]]})
    unknown_day = await office.user("odd", hours={"mon": [["09:00", "17:00"]], "xday": []})
    garbage = await office.user("junk", hours={"mon": "all day", "tue": [["9", "x"], 5]})
    regular = await office.user("pat")

    await send_due_digests(sessions, at(day, 17, 0, 30), 50)
    assert await digest_of(sessions, regular.id, day) is not None
    for user in (unknown_day, garbage):
        row = await digest_of(sessions, user.id, day)
        assert row is not None
        assert row.summary["skipped"].startswith("working hours unusable")
        assert await digest_request(sessions, user.id, day) is None
    assert await digest_of(sessions, night.id, day) is None

    tuesday = day + timedelta(days=1)
    await send_due_digests(sessions, at(tuesday, 5, 59), 50)
    assert await digest_of(sessions, night.id, day) is None
    await send_due_digests(sessions, at(tuesday, 6, 0, 30), 50)
    assert await digest_request(sessions, night.id, day) is not None
