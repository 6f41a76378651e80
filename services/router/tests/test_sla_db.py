"""SLA clocks and the scanner against the real PostgreSQL.

Every ticket here lives in 2021 and every scan passes its own `now` in 2021,
so the scans never reach timers of other test modules (they run at the real
time); an autouse fixture stops this module's timers after each test, so no
test's scan sees another's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from postdesk_contracts.envelope import derived_event_id
from postdesk_router.sla_db import (
    on_agent_reply,
    on_priority_change,
    on_status_change,
    start_clocks,
)
from postdesk_router.sla_scan import CLAIM_BREACHES, CLAIM_WARNINGS, scan_sla
from postdesk_runtime import Sessions
from postdesk_runtime.metrics import metrics
from postdesk_schema import (
    AssignmentRole,
    OutboxEvent,
    SlaPolicy,
    SlaTimer,
    Ticket,
    TicketHistory,
    TicketPriority,
)
from postdesk_testing import sample_value
from sqlalchemy import select, text, update
from sqlmodel import col

from .factories import Seed, seed_tenant

pytestmark = pytest.mark.integration

OFFICE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
T0 = datetime(2021, 3, 3, 10, 0, tzinfo=UTC)  # a Wednesday
NUMBERS = itertools.count(1)
SEEDED_TENANTS: list[uuid.UUID] = []


@pytest_asyncio.fixture(autouse=True)
async def stop_leftover_timers(sessions: Sessions) -> AsyncIterator[None]:
    yield
    async with sessions() as session, session.begin():
        await session.execute(
            update(SlaTimer)
            .where(col(SlaTimer.tenant_id).in_(SEEDED_TENANTS))
            .values(state="stopped")
        )
    SEEDED_TENANTS.clear()


async def tenant(
    sessions: Sessions, assignments: Sequence[tuple[str, AssignmentRole, int, bool, bool]] = ()
) -> Seed:
    seed = await seed_tenant(sessions, assignments)
    SEEDED_TENANTS.append(seed.tenant.id)
    return seed


async def add_policy(sessions: Sessions, seed: Seed, **fields: Any) -> SlaPolicy:
    values: dict[str, Any] = {
        "tenant_id": seed.tenant.id,
        "name": f"policy {uuid.uuid4().hex[:6]}",
        "first_response_minutes": 60,
        "resolution_minutes": 480,
    }
    policy = SlaPolicy(**(values | fields))
    async with sessions() as session, session.begin():
        session.add(policy)
    return policy


async def new_ticket(
    sessions: Sessions,
    seed: Seed,
    *,
    at: datetime = T0,
    priority: str = "normal",
    department: bool = True,
    assignee_id: uuid.UUID | None = None,
    clocks: bool = True,
) -> Ticket:
    """A ticket created at `at`, with its clocks started as the router starts them."""
    ticket = Ticket(
        tenant_id=seed.tenant.id,
        number=next(NUMBERS),
        account_id=seed.account.id,
        department_id=seed.department.id if department else None,
        subject="Printer on fire",
        customer_email="carol@customer.example",
        priority=TicketPriority(priority),
        assignee_id=assignee_id,
        created_at=at,
        updated_at=at,
        last_message_at=at,
    )
    async with sessions() as session, session.begin():
        session.add(ticket)
        await session.flush()
        if clocks:
            await start_clocks(
                session,
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                account_id=ticket.account_id,
                department_id=ticket.department_id,
                priority=priority,
                at=at,
            )
    return ticket


async def timers_of(sessions: Sessions, ticket_id: uuid.UUID) -> dict[str, SlaTimer]:
    async with sessions() as session:
        rows = await session.scalars(select(SlaTimer).where(col(SlaTimer.ticket_id) == ticket_id))
        return {row.target: row for row in rows.all()}


async def ticket_row(sessions: Sessions, ticket_id: uuid.UUID) -> Ticket:
    async with sessions() as session:
        return (await session.scalars(select(Ticket).where(col(Ticket.id) == ticket_id))).one()


async def status(
    sessions: Sessions, ticket: Ticket, old: str, new: str, at: datetime, *, times: int = 1
) -> None:
    """Change the ticket's status as the router would, calling the SLA hook `times` times."""
    async with sessions() as session, session.begin():
        await session.execute(update(Ticket).where(col(Ticket.id) == ticket.id).values(status=new))
        for _ in range(times):
            await on_status_change(session, ticket_id=ticket.id, old=old, new=new, at=at)


async def reply(sessions: Sessions, ticket: Ticket, at: datetime) -> None:
    async with sessions() as session, session.begin():
        await on_agent_reply(session, ticket_id=ticket.id, at=at)


async def reprioritise(sessions: Sessions, ticket: Ticket, priority: str, at: datetime) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Ticket).where(col(Ticket.id) == ticket.id).values(priority=priority)
        )
        await on_priority_change(session, ticket_id=ticket.id, priority=priority, at=at)


async def sla_events(sessions: Sessions, seed: Seed) -> list[dict[str, Any]]:
    """The tenant's sla.* outbox events, oldest first, as decoded envelopes."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(
                col(OutboxEvent.routing_key).in_(("sla.warning", "sla.breached")),
                text("(outbox.body::jsonb ->> 'tenant_id') = :tenant").bindparams(
                    tenant=str(seed.tenant.id)
                ),
            )
            .order_by(col(OutboxEvent.created_at))
        )
        return [json.loads(row.body) for row in rows.all()]


async def scan_until_done(sessions: Sessions, now: datetime, batch: int = 500) -> int:
    total = 0
    while done := await scan_sla(sessions, now=now, batch=batch):
        total += done
    return total


def mins(n: float) -> timedelta:
    return timedelta(minutes=n)


async def test_clocks_start_under_the_most_specific_policy(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    tenant_wide = await add_policy(sessions, seed)
    urgent = await add_policy(
        sessions,
        seed,
        account_id=seed.account.id,
        priority="urgent",
        first_response_minutes=15,
        resolution_minutes=120,
        warning_percent=50,
    )
    await add_policy(sessions, seed, account_id=seed.account.id, is_active=False)
    ticket = await new_ticket(sessions, seed, priority="urgent")
    timers = await timers_of(sessions, ticket.id)
    assert {t.policy_id for t in timers.values()} == {urgent.id}
    first, resolution = timers["first_response"], timers["resolution"]
    assert (first.state, first.started_at, first.due_at, first.warn_at) == (
        "running",
        T0,
        T0 + mins(15),
        T0 + mins(7.5),
    )
    assert (resolution.due_at, resolution.warn_at) == (T0 + mins(120), T0 + mins(60))

    normal = await new_ticket(sessions, seed)
    assert {t.policy_id for t in (await timers_of(sessions, normal.id)).values()} == {
        tenant_wide.id
    }


async def test_starting_clocks_twice_changes_nothing(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed)
    ticket = await new_ticket(sessions, seed)
    before = await timers_of(sessions, ticket.id)
    async with sessions() as session, session.begin():
        await start_clocks(
            session,
            tenant_id=seed.tenant.id,
            ticket_id=ticket.id,
            account_id=seed.account.id,
            department_id=seed.department.id,
            priority="normal",
            at=T0 + timedelta(hours=1),
        )
    after = await timers_of(sessions, ticket.id)
    assert {k: v.model_dump() for k, v in after.items()} == {
        k: v.model_dump() for k, v in before.items()
    }


async def test_no_policy_no_clocks_and_only_the_targets_set(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed, priority="urgent")
    assert await timers_of(sessions, (await new_ticket(sessions, seed)).id) == {}
    await add_policy(sessions, seed, priority="low", resolution_minutes=None)
    low = await new_ticket(sessions, seed, priority="low")
    assert set(await timers_of(sessions, low.id)) == {"first_response"}


async def test_business_hours_due_dates(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(
        sessions,
        seed,
        business_hours=True,
        timezone="Europe/Berlin",
        working_hours=OFFICE,
        holidays=["2021-04-02"],  # Good Friday
        first_response_minutes=120,
    )
    thursday_before_easter = datetime(2021, 4, 1, 14, 0, tzinfo=UTC)  # 16:00 Berlin (UTC+2)
    ticket = await new_ticket(sessions, seed, at=thursday_before_easter)
    first = (await timers_of(sessions, ticket.id))["first_response"]
    # one hour on Thursday; Friday is a holiday; Monday from 09:00 Berlin
    assert first.due_at == datetime(2021, 4, 5, 8, 0, tzinfo=UTC)
    assert first.warn_at == datetime(2021, 4, 5, 7, 36, tzinfo=UTC)


async def test_first_reply_stops_the_clock_and_records_business_minutes(
    sessions: Sessions,
) -> None:
    seed = await tenant(sessions)
    await add_policy(
        sessions, seed, business_hours=True, timezone="Europe/Berlin", working_hours=OFFICE
    )
    friday_afternoon = datetime(2021, 3, 5, 15, 0, tzinfo=UTC)  # 16:00 Berlin
    ticket = await new_ticket(sessions, seed, at=friday_afternoon)
    monday = datetime(2021, 3, 8, 8, 30, tzinfo=UTC)  # 09:30 Berlin
    await reply(sessions, ticket, monday)
    await reply(sessions, ticket, monday + timedelta(hours=2))  # a second reply changes nothing
    row = await ticket_row(sessions, ticket.id)
    assert (row.first_responded_at, row.response_minutes) == (monday, 90)
    timers = await timers_of(sessions, ticket.id)
    assert (timers["first_response"].state, timers["first_response"].stopped_at) == (
        "stopped",
        monday,
    )
    assert timers["resolution"].state == "running"


async def test_response_minutes_are_calendar_minutes_without_a_policy(
    sessions: Sessions,
) -> None:
    seed = await tenant(sessions)
    ticket = await new_ticket(sessions, seed)
    await reply(sessions, ticket, T0 + timedelta(days=2, minutes=5, seconds=59))
    row = await ticket_row(sessions, ticket.id)
    assert row.response_minutes == 2 * 1440 + 5


async def test_pending_pauses_and_open_resumes(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed)  # 60 / 480 minutes, warning at 80%
    ticket = await new_ticket(sessions, seed)
    await status(sessions, ticket, "open", "pending", T0 + mins(20), times=2)
    paused = await timers_of(sessions, ticket.id)
    assert {t.state for t in paused.values()} == {"paused"}
    assert paused["first_response"].remaining_seconds == 40 * 60
    assert paused["resolution"].remaining_seconds == 460 * 60
    assert paused["first_response"].paused_at == T0 + mins(20)
    # nothing is due while paused, however late
    assert await scan_sla(sessions, now=T0 + timedelta(days=3)) == 0

    back = T0 + timedelta(hours=3)
    await status(sessions, ticket, "pending", "open", back, times=2)
    resumed = await timers_of(sessions, ticket.id)
    first = resumed["first_response"]
    assert (first.state, first.due_at, first.warn_at) == (
        "running",
        back + mins(40),
        back + mins(28),
    )
    assert (first.paused_at, first.remaining_seconds) == (None, None)
    assert resumed["resolution"].due_at == back + mins(460)


async def test_resolution_stops_everything_and_reopening_carries_on(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed)
    ticket = await new_ticket(sessions, seed)
    await status(sessions, ticket, "open", "pending", T0 + mins(30))
    resolved = T0 + mins(100)
    await status(sessions, ticket, "pending", "resolved", resolved, times=2)
    row = await ticket_row(sessions, ticket.id)
    assert (row.resolved_at, row.resolution_minutes) == (resolved, 100)
    stopped = await timers_of(sessions, ticket.id)
    assert {t.state for t in stopped.values()} == {"stopped"}
    # paused at 30 minutes: the pending time after it does not count
    assert stopped["resolution"].remaining_seconds == 450 * 60
    await status(sessions, ticket, "resolved", "closed", resolved + mins(5))
    assert (await ticket_row(sessions, ticket.id)).resolved_at == resolved

    reopened = T0 + timedelta(days=1)
    await status(sessions, ticket, "closed", "open", reopened, times=2)
    row = await ticket_row(sessions, ticket.id)
    assert (row.resolved_at, row.resolution_minutes) == (None, None)
    timers = await timers_of(sessions, ticket.id)
    assert timers["resolution"].state == "running"
    assert timers["resolution"].due_at == reopened + mins(450)
    # nobody replied before the resolution: the first response is still owed
    assert timers["first_response"].state == "running"
    assert timers["first_response"].due_at == reopened + mins(30)

    again = reopened + mins(10)
    await status(sessions, ticket, "open", "resolved", again)
    row = await ticket_row(sessions, ticket.id)
    assert (row.resolved_at, row.resolution_minutes) == (again, 24 * 60 + 10)


async def test_reopening_after_a_reply_restarts_only_the_resolution(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed)
    ticket = await new_ticket(sessions, seed)
    await reply(sessions, ticket, T0 + mins(5))
    await status(sessions, ticket, "open", "resolved", T0 + mins(60))
    reopened = T0 + timedelta(hours=5)
    await status(sessions, ticket, "resolved", "pending", reopened)
    timers = await timers_of(sessions, ticket.id)
    assert timers["first_response"].state == "stopped"
    resolution = timers["resolution"]
    assert (resolution.state, resolution.remaining_seconds, resolution.paused_at) == (
        "paused",
        420 * 60,
        reopened,
    )
    await status(sessions, ticket, "pending", "open", reopened + mins(10))
    timers = await timers_of(sessions, ticket.id)
    assert timers["resolution"].due_at == reopened + mins(430)


def breaches_exposed() -> float:
    return sample_value(metrics().exposition().decode(), "postdesk_sla_breaches_total")


async def test_scan_warns_then_breaches_once_with_the_ticket_details(sessions: Sessions) -> None:
    seed = await tenant(sessions, [("pat", AssignmentRole.PRIMARY, 0, True, True)])
    policy = await add_policy(sessions, seed)
    assignee = seed.users["pat"].id
    ticket = await new_ticket(sessions, seed, assignee_id=assignee)
    timer = (await timers_of(sessions, ticket.id))["first_response"]

    assert await scan_sla(sessions, now=T0 + mins(47)) == 0
    warned_at = T0 + mins(50)
    assert await scan_sla(sessions, now=warned_at) == 1
    assert await scan_sla(sessions, now=warned_at + mins(1)) == 0
    breached_at = T0 + mins(61)
    breaches_before = breaches_exposed()
    assert await scan_sla(sessions, now=breached_at) == 1
    assert await scan_sla(sessions, now=breached_at + mins(5)) == 0
    assert breaches_exposed() - breaches_before == 1  # the warning is not a breach

    events = await sla_events(sessions, seed)
    assert [(e["type"], e["id"]) for e in events] == [
        ("sla.warning", str(derived_event_id(timer.id, "sla.warning"))),
        ("sla.breached", str(derived_event_id(timer.id, "sla.breached"))),
    ]
    warning, breach = (e["payload"] for e in events)
    assert warning == {
        "ticket_id": str(ticket.id),
        "account_id": str(seed.account.id),
        "target": "first_response",
        "policy_id": str(policy.id),
        "due_at": "2021-03-03T11:00:00Z",
        "warned_at": "2021-03-03T10:50:00Z",
        "assignee_id": str(assignee),
    }
    assert breach["breached_at"] == "2021-03-03T11:01:00Z"
    assert breach["assignee_id"] == str(assignee)
    assert events[0]["tenant_id"] == str(seed.tenant.id)
    stored = (await timers_of(sessions, ticket.id))["first_response"]
    assert (stored.warned_at, stored.breached_at) == (warned_at, breached_at)
    async with sessions() as session:
        history = (
            await session.scalars(
                select(TicketHistory)
                .where(col(TicketHistory.ticket_id) == ticket.id)
                .order_by(col(TicketHistory.created_at))
            )
        ).all()
    assert [(h.kind, h.rule, h.event_id) for h in history] == [
        ("sla", "first_response-warning", uuid.UUID(events[0]["id"])),
        ("sla", "first_response-breached", uuid.UUID(events[1]["id"])),
    ]


async def test_a_timer_overdue_before_any_warning_gets_both_warning_first(
    sessions: Sessions,
) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed, resolution_minutes=None)
    await new_ticket(sessions, seed)
    assert await scan_sla(sessions, now=T0 + timedelta(days=1)) == 2
    assert [e["type"] for e in await sla_events(sessions, seed)] == [
        "sla.warning",
        "sla.breached",
    ]


async def test_a_breach_is_never_repeated(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed, resolution_minutes=None)
    ticket = await new_ticket(sessions, seed)
    late = T0 + mins(90)
    assert await scan_sla(sessions, now=late) == 2
    first = (await timers_of(sessions, ticket.id))["first_response"]
    # pause overdue, resume, resolve, reopen: the passed deadline stands, nothing new fires
    await status(sessions, ticket, "open", "pending", late + mins(10))
    assert (await timers_of(sessions, ticket.id))["first_response"].remaining_seconds == -40 * 60
    await status(sessions, ticket, "pending", "open", late + timedelta(hours=5))
    await status(sessions, ticket, "open", "closed", late + timedelta(hours=6))
    await status(sessions, ticket, "closed", "open", late + timedelta(hours=7))
    after = (await timers_of(sessions, ticket.id))["first_response"]
    assert after.state == "running"
    assert (after.due_at, after.warned_at, after.breached_at) == (
        first.due_at,
        first.warned_at,
        first.breached_at,
    )
    assert await scan_sla(sessions, now=late + timedelta(days=3)) == 0
    assert len(await sla_events(sessions, seed)) == 2


async def test_two_scanners_emit_each_event_exactly_once(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed)
    tickets = 150
    now = T0 + timedelta(hours=9)
    async with sessions() as session, session.begin():
        for i in range(tickets):
            ticket = Ticket(
                tenant_id=seed.tenant.id,
                number=next(NUMBERS),
                account_id=seed.account.id,
                subject=f"ticket {i}",
                customer_email="carol@customer.example",
                created_at=T0,
            )
            session.add(ticket)
            await session.flush()
            await start_clocks(
                session,
                tenant_id=seed.tenant.id,
                ticket_id=ticket.id,
                account_id=seed.account.id,
                department_id=None,
                priority="normal",
                # odd: both targets overdue (four events); even: the first response warned only
                at=T0 if i % 2 else now - mins(50),
            )

    async def scanner() -> int:
        return await scan_until_done(sessions, now, batch=7)

    emitted = await asyncio.gather(scanner(), scanner())
    events = await sla_events(sessions, seed)
    overdue = tickets // 2
    expected = overdue * 4 + (tickets - overdue)
    assert sum(emitted) == expected
    assert all(n > 0 for n in emitted), emitted  # both replicas took a share
    keys = Counter((e["payload"]["ticket_id"], e["payload"]["target"], e["type"]) for e in events)
    assert len(keys) == expected
    assert set(keys.values()) == {1}
    assert len({e["id"] for e in events}) == expected


async def test_a_timer_whose_ticket_is_locked_is_left_for_the_next_scan(
    sessions: Sessions,
) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed, resolution_minutes=None)
    ticket = await new_ticket(sessions, seed)
    late = T0 + mins(90)
    async with sessions() as holder, holder.begin():
        await holder.execute(
            select(col(Ticket.id)).where(col(Ticket.id) == ticket.id).with_for_update()
        )
        # the scanner neither waits for the ticket nor takes its timer
        assert await asyncio.wait_for(scan_sla(sessions, now=late), timeout=30) == 0
    assert await scan_sla(sessions, now=late) == 2


async def test_priority_change_moves_the_clocks_to_the_new_policy(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed)  # 60 / 480
    urgent = await add_policy(
        sessions, seed, priority="urgent", first_response_minutes=None, resolution_minutes=120
    )
    ticket = await new_ticket(sessions, seed)
    await status(sessions, ticket, "open", "pending", T0 + mins(10))
    await status(sessions, ticket, "pending", "open", T0 + mins(70))  # an hour paused
    changed = T0 + mins(100)  # 40 minutes run on the clocks
    async with sessions() as session, session.begin():
        for _ in range(2):
            await on_priority_change(session, ticket_id=ticket.id, priority="urgent", at=changed)
    timers = await timers_of(sessions, ticket.id)
    resolution = timers["resolution"]
    assert resolution.policy_id == urgent.id
    assert resolution.started_at == T0
    # 120 - 40 minutes left; the warning at 96 minutes run, 56 from now
    assert (resolution.due_at, resolution.warn_at) == (changed + mins(80), changed + mins(56))
    # the urgent policy sets no first-response target: that clock is dropped
    assert (timers["first_response"].state, timers["first_response"].remaining_seconds) == (
        "stopped",
        None,
    )
    # dropped clocks do not come back when the ticket is reopened
    await status(sessions, ticket, "open", "resolved", changed + mins(1))
    await status(sessions, ticket, "resolved", "open", changed + mins(2))
    assert (await timers_of(sessions, ticket.id))["first_response"].state == "stopped"

    # back to normal: the first-response target returns, counted from the ticket's creation
    back = changed + mins(3)
    await reprioritise(sessions, ticket, "normal", back)
    timers = await timers_of(sessions, ticket.id)
    assert timers["first_response"].state == "running"
    assert timers["first_response"].due_at <= back  # more than an hour since creation
    assert timers["resolution"].due_at > back


async def test_priority_change_never_unbreaches(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed, priority="urgent", first_response_minutes=15)
    relaxed = await add_policy(sessions, seed, priority="low", first_response_minutes=24 * 60)
    ticket = await new_ticket(sessions, seed, priority="urgent")
    late = T0 + mins(30)
    assert await scan_sla(sessions, now=late) == 2  # first response warned and breached
    await reprioritise(sessions, ticket, "low", late + mins(1))
    first = (await timers_of(sessions, ticket.id))["first_response"]
    assert first.policy_id == relaxed.id
    assert first.breached_at == late
    assert first.due_at == T0 + timedelta(days=1)
    assert await scan_sla(sessions, now=T0 + timedelta(days=2)) == 2  # the resolution only
    assert Counter(e["payload"]["target"] for e in await sla_events(sessions, seed)) == {
        "first_response": 2,
        "resolution": 2,
    }


async def test_priority_change_to_a_shorter_target_already_exceeded(sessions: Sessions) -> None:
    seed = await tenant(sessions)
    await add_policy(sessions, seed)
    await add_policy(sessions, seed, priority="urgent", resolution_minutes=30)
    ticket = await new_ticket(sessions, seed)
    changed = T0 + mins(45)
    await reprioritise(sessions, ticket, "urgent", changed)
    resolution = (await timers_of(sessions, ticket.id))["resolution"]
    assert (resolution.due_at, resolution.warn_at) == (T0 + mins(30), T0 + mins(24))
    assert await scan_sla(sessions, now=changed) == 2
    assert {
        (e["type"], e["payload"]["due_at"])
        for e in await sla_events(sessions, seed)
        if e["payload"]["target"] == "resolution"
    } == {("sla.warning", "2021-03-03T10:30:00Z"), ("sla.breached", "2021-03-03T10:30:00Z")}


@pytest.mark.parametrize("claim", [CLAIM_WARNINGS, CLAIM_BREACHES], ids=["warn", "breach"])
async def test_claims_can_use_the_partial_indexes(sessions: Sessions, claim: Any) -> None:
    index = "ix_sla_timers_warn_due" if claim is CLAIM_WARNINGS else "ix_sla_timers_breach_due"
    async with sessions() as session, session.begin():
        # the test tables are tiny: make a sequential scan unattractive, as it is at scale
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = (
            await session.execute(text("EXPLAIN " + str(claim)), {"now": T0, "batch": 500})
        ).scalars()
        assert index in "\n".join(plan)
