"""Assignment against the real PostgreSQL: department strategies under concurrent replicas
and the unanswered-ticket scanner.

Every scan passes a `now` no later than the real time, so tickets other
tests leave not yet due stay not due.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from postdesk_contracts.envelope import derived_event_id
from postdesk_router.assignment_db import assign_new_ticket, reassign_unanswered
from postdesk_router.domain import AssigneeChoice, AssignmentRule
from postdesk_runtime import Sessions
from postdesk_schema import (
    AssignmentRole,
    Department,
    OutboxEvent,
    Ticket,
    TicketHistory,
    User,
)
from sqlalchemy import select, update
from sqlmodel import col

from .factories import (
    Seed,
    add_ticket,
    seed_tenant,
    set_reassign_after,
    set_routing_strategy,
    set_working_hours,
)

pytestmark = pytest.mark.integration

TEAM = [
    ("alice", AssignmentRole.PRIMARY, 0, True, True),
    ("bob", AssignmentRole.BACKUP, 0, True, True),
    ("carl", AssignmentRole.BACKUP, 1, True, True),
    ("vic", AssignmentRole.VIEWER, -1, True, True),
]
OFFICE = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# A Wednesday 08:30 UTC: 10:30 in Berlin, 04:30 in New York.
WEDNESDAY = datetime(2024, 6, 12, 8, 30, tzinfo=UTC)
_numbers = itertools.count(1)


async def route_new_ticket(sessions: Sessions, seed: Seed, now: datetime) -> AssigneeChoice | None:
    """What the router does for a new ticket: choose its owner and store it, in one transaction.

    Ticket numbers come from a counter here, not the tenant row, so the
    tenant lock the router also takes cannot hide a missing department lock.
    """
    async with sessions() as session, session.begin():
        choice = await assign_new_ticket(
            session,
            tenant_id=seed.tenant.id,
            account_id=seed.account.id,
            department_id=seed.account.department_id,
            now=now,
        )
        await asyncio.sleep(0)  # let the other replica run between choosing and storing
        session.add(
            Ticket(
                tenant_id=seed.tenant.id,
                number=next(_numbers),
                account_id=seed.account.id,
                department_id=seed.account.department_id,
                subject="new",
                customer_email="carol@customer.example",
                assignee_id=choice.user_id if choice else None,
                assignment_rule=str(choice.rule) if choice else "",
            )
        )
    return choice


async def replica(sessions: Sessions, seed: Seed, tickets: int) -> list[AssigneeChoice | None]:
    return [await route_new_ticket(sessions, seed, datetime.now(UTC)) for _ in range(tickets)]


async def assignee_counts(sessions: Sessions, seed: Seed) -> Counter[str]:
    """Open tickets per assignee name (unassigned as "")."""
    names = {u.id: name for name, u in seed.users.items()}
    async with sessions() as session:
        rows = await session.scalars(
            select(col(Ticket.assignee_id)).where(col(Ticket.tenant_id) == seed.tenant.id)
        )
        return Counter(names.get(a, "") if a else "" for a in rows.all())


async def department(sessions: Sessions, seed: Seed) -> Department:
    async with sessions() as session:
        return (
            await session.scalars(
                select(Department).where(col(Department.id) == seed.department.id)
            )
        ).one()


async def ticket(sessions: Sessions, ticket_id: uuid.UUID) -> Ticket:
    async with sessions() as session:
        return (await session.scalars(select(Ticket).where(col(Ticket.id) == ticket_id))).one()


async def history(sessions: Sessions, ticket_id: uuid.UUID) -> list[TicketHistory]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketHistory)
            .where(col(TicketHistory.ticket_id) == ticket_id)
            .order_by(col(TicketHistory.created_at))
        )
        return list(rows.all())


async def assigned_events(sessions: Sessions, ticket_id: uuid.UUID) -> list[dict[str, Any]]:
    """The router's ticket.assigned envelopes for the ticket."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                col(OutboxEvent.service) == "router",
                col(OutboxEvent.routing_key) == "ticket.assigned",
            )
        )
        envelopes = [json.loads(row.body) for row in rows.all()]
    return [e for e in envelopes if e["payload"]["ticket_id"] == str(ticket_id)]


class TestNewTickets:
    async def test_primary_outside_hours_in_their_timezone_goes_to_a_backup(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_working_hours(sessions, seed.users["alice"], "America/New_York", OFFICE)
        await set_working_hours(sessions, seed.users["bob"], "Europe/Berlin", OFFICE)
        choice = await route_new_ticket(sessions, seed, WEDNESDAY)
        assert choice is not None
        assert (choice.user_id, choice.rule) == (seed.users["bob"].id, AssignmentRule.BACKUP)
        assert choice.reason == (
            "Alice is outside working hours (America/New_York); backup Bob with priority 0"
        )
        # five hours later Alice has started work (09:30 in New York)
        later = await route_new_ticket(sessions, seed, WEDNESDAY + timedelta(hours=5))
        assert later is not None
        assert (later.user_id, later.rule) == (seed.users["alice"].id, AssignmentRule.PRIMARY)

    async def test_an_account_without_department_uses_the_primary_rule(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_routing_strategy(sessions, seed, "round_robin")
        seed.account.department_id = None
        choices = [await route_new_ticket(sessions, seed, WEDNESDAY) for _ in range(3)]
        assert {(c.user_id, c.rule) for c in choices if c} == {
            (seed.users["alice"].id, AssignmentRule.PRIMARY)
        }
        assert (await department(sessions, seed)).round_robin_last_user_id is None

    async def test_nobody_active_leaves_the_ticket_unassigned(self, sessions: Sessions) -> None:
        seed = await seed_tenant(
            sessions,
            [
                ("vic", AssignmentRole.VIEWER, 0, True, True),
                ("gone", AssignmentRole.PRIMARY, 0, True, False),
            ],
        )
        await set_routing_strategy(sessions, seed, "round_robin")
        assert await route_new_ticket(sessions, seed, WEDNESDAY) is None
        assert (await department(sessions, seed)).round_robin_last_user_id is None


class TestRoundRobin:
    async def test_rotation_is_fair_and_moves_the_departments_pointer(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_routing_strategy(sessions, seed, "round_robin")
        choices = await replica(sessions, seed, 30)
        names = {u.id: name for name, u in seed.users.items()}
        assert [names[c.user_id] for c in choices if c][:6] == ["alice", "bob", "carl"] * 2
        assert {c.rule for c in choices if c} == {AssignmentRule.ROUND_ROBIN}
        assert await assignee_counts(sessions, seed) == {"alice": 10, "bob": 10, "carl": 10}
        last = choices[-1]
        assert last is not None
        assert (await department(sessions, seed)).round_robin_last_user_id == last.user_id

    async def test_two_replicas_at_once_stay_fair(self, sessions: Sessions) -> None:
        """Both replicas assign in one department at the same time: the locked pointer makes
        them take turns, so the 30 tickets split exactly 10/10/10."""
        seed = await seed_tenant(sessions, TEAM)
        await set_routing_strategy(sessions, seed, "round_robin")
        first, second = await asyncio.gather(
            replica(sessions, seed, 15), replica(sessions, seed, 15)
        )
        assert all(c is not None for c in first + second)
        counts = await assignee_counts(sessions, seed)
        assert sum(counts.values()) == 30
        assert counts == {"alice": 10, "bob": 10, "carl": 10}

    async def test_members_outside_hours_are_skipped(self, sessions: Sessions) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_routing_strategy(sessions, seed, "round_robin")
        await set_working_hours(sessions, seed.users["bob"], "America/New_York", OFFICE)
        choices = [await route_new_ticket(sessions, seed, WEDNESDAY) for _ in range(4)]
        names = {u.id: name for name, u in seed.users.items()}
        assert [names[c.user_id] for c in choices if c] == ["alice", "carl", "alice", "carl"]


class TestLeastOpen:
    async def test_the_least_loaded_member_gets_the_ticket(self, sessions: Sessions) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_routing_strategy(sessions, seed, "least_open")
        users = seed.users
        for assignee, status, count in [
            (users["alice"], "open", 3),
            (users["bob"], "pending", 2),
            (users["bob"], "resolved", 4),  # not counted
            (users["carl"], "open", 1),
            (users["carl"], "pending", 2),
        ]:
            for _ in range(count):
                await add_ticket(sessions, seed, assignee=assignee, status=status)
        choice = await route_new_ticket(sessions, seed, WEDNESDAY)
        assert choice is not None
        assert (choice.user_id, choice.rule) == (users["bob"].id, AssignmentRule.LEAST_OPEN)
        assert choice.reason == "Bob has the fewest open tickets (Alice 3, Bob 2, Carl 3)"

    async def test_two_replicas_at_once_stay_balanced(self, sessions: Sessions) -> None:
        """The counts are read under the department lock, so neither replica picks from a
        count the other has already changed."""
        seed = await seed_tenant(sessions, TEAM)
        await set_routing_strategy(sessions, seed, "least_open")
        await asyncio.gather(replica(sessions, seed, 15), replica(sessions, seed, 15))
        counts = await assignee_counts(sessions, seed)
        assert sum(counts.values()) == 30
        assert counts == {"alice": 10, "bob": 10, "carl": 10}


class TestPriority:
    async def test_lowest_number_first_primaries_win_ties(self, sessions: Sessions) -> None:
        seed = await seed_tenant(
            sessions,
            [
                ("alice", AssignmentRole.PRIMARY, 2, True, True),
                ("bob", AssignmentRole.BACKUP, 1, True, True),
                ("pia", AssignmentRole.PRIMARY, 1, True, True),
            ],
        )
        await set_routing_strategy(sessions, seed, "priority")
        choice = await route_new_ticket(sessions, seed, WEDNESDAY)
        assert choice is not None
        assert (choice.user_id, choice.rule) == (seed.users["pia"].id, AssignmentRule.PRIORITY)


async def unanswered(
    sessions: Sessions, seed: Seed, assignee: User, waiting: timedelta, **fields: Any
) -> Ticket:
    """An open ticket of `assignee` whose customer wrote `waiting` ago."""
    at = datetime.now(UTC) - waiting
    return await add_ticket(
        sessions, seed, assignee=assignee, created_at=at, last_customer_message_at=at, **fields
    )


class TestReassignUnanswered:
    async def test_reassigns_once_and_emits_ticket_assigned(self, sessions: Sessions) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_reassign_after(sessions, seed, 30)
        alice, bob = seed.users["alice"], seed.users["bob"]
        row = await unanswered(sessions, seed, alice, timedelta(minutes=45))
        now = datetime.now(UTC)

        assert await reassign_unanswered(sessions, now=now) == 1
        stored = await ticket(sessions, row.id)
        assert (stored.assignee_id, stored.assignment_rule, stored.reassigned_at) == (
            bob.id,
            "unanswered-reassign",
            now,
        )
        assert row.last_customer_message_at is not None
        event_id = derived_event_id(row.id, f"reassign:{row.last_customer_message_at.isoformat()}")
        [event] = await assigned_events(sessions, row.id)
        assert event["id"] == str(event_id)
        assert event["tenant_id"] == str(seed.tenant.id)
        payload = event["payload"]
        assert (payload["assignee_id"], payload["previous_assignee_id"], payload["rule"]) == (
            str(bob.id),
            str(alice.id),
            "unanswered-reassign",
        )
        assert payload["reason"] == (
            "unanswered for 45 minutes; primary Alice already has it; backup Bob with priority 0"
        )
        [entry] = await history(sessions, row.id)
        assert (entry.kind, entry.rule, entry.event_id) == (
            "assigned",
            "unanswered-reassign",
            event_id,
        )
        assert entry.detail.startswith("from Alice to Bob (backup): unanswered for 45 minutes")

        assert await reassign_unanswered(sessions, now=datetime.now(UTC)) == 0
        assert (await ticket(sessions, row.id)).assignee_id == bob.id
        assert len(await history(sessions, row.id)) == 1
        assert len(await assigned_events(sessions, row.id)) == 1

    async def test_a_new_unanswered_message_is_a_new_episode(self, sessions: Sessions) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_reassign_after(sessions, seed, 30)
        alice, bob = seed.users["alice"], seed.users["bob"]
        row = await unanswered(sessions, seed, alice, timedelta(hours=3))
        real_now = datetime.now(UTC)
        assert await reassign_unanswered(sessions, now=real_now - timedelta(hours=2)) == 1
        assert (await ticket(sessions, row.id)).assignee_id == bob.id

        # the customer writes again an hour ago; Bob has not answered either
        again = real_now - timedelta(hours=1)
        async with sessions() as session, session.begin():
            await session.execute(
                update(Ticket)
                .where(col(Ticket.id) == row.id)
                .values(last_customer_message_at=again)
            )
        assert await reassign_unanswered(sessions, now=real_now) == 1
        stored = await ticket(sessions, row.id)
        assert (stored.assignee_id, stored.reassigned_at) == (alice.id, real_now)
        events = await assigned_events(sessions, row.id)
        assert len({e["id"] for e in events}) == 2
        assert str(derived_event_id(row.id, f"reassign:{again.isoformat()}")) in {
            e["id"] for e in events
        }

    async def test_tickets_that_are_not_due_stay(self, sessions: Sessions) -> None:
        seed = await seed_tenant(sessions, TEAM)
        other = await seed_tenant(sessions, TEAM)  # reassignment off
        await set_reassign_after(sessions, seed, 30)
        alice = seed.users["alice"]
        now = datetime.now(UTC)
        rows = [
            await unanswered(sessions, seed, alice, timedelta(minutes=20)),  # not yet
            await unanswered(
                sessions, seed, alice, timedelta(hours=1), last_agent_reply_at=now
            ),  # answered
            await unanswered(sessions, seed, alice, timedelta(hours=1), status="pending"),
            await add_ticket(
                sessions, seed, created_at=now - timedelta(hours=1)
            ),  # nobody to take it from
            await unanswered(sessions, other, other.users["alice"], timedelta(hours=1)),
        ]
        await reassign_unanswered(sessions, now=now)
        for row in rows:
            stored = await ticket(sessions, row.id)
            assert (stored.assignee_id, stored.reassigned_at) == (row.assignee_id, None)
            assert await history(sessions, row.id) == []

    async def test_created_at_counts_when_no_customer_message_is_recorded(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_reassign_after(sessions, seed, 30)
        row = await add_ticket(
            sessions,
            seed,
            assignee=seed.users["alice"],
            created_at=datetime.now(UTC) - timedelta(hours=1),
        )
        assert await reassign_unanswered(sessions, now=datetime.now(UTC)) == 1
        assert (await ticket(sessions, row.id)).assignee_id == seed.users["bob"].id

    async def test_nobody_else_available_keeps_the_ticket_and_says_why(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_tenant(
            sessions,
            [
                ("alice", AssignmentRole.PRIMARY, 0, True, True),
                ("nina", AssignmentRole.BACKUP, 0, True, True),
                ("vic", AssignmentRole.VIEWER, 0, True, True),
            ],
        )
        await set_reassign_after(sessions, seed, 30)
        # no open time today (nor tomorrow, should the day turn): Nina is off now
        today = datetime.now(UTC).weekday()
        other_days = {
            d: [["09:00", "17:00"]]
            for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
            if i not in {today, (today + 1) % 7}
        }
        await set_working_hours(sessions, seed.users["nina"], "UTC", other_days)
        alice = seed.users["alice"]
        row = await unanswered(sessions, seed, alice, timedelta(hours=1))
        now = datetime.now(UTC)

        assert await reassign_unanswered(sessions, now=now) == 0
        stored = await ticket(sessions, row.id)
        assert (stored.assignee_id, stored.reassigned_at) == (alice.id, now)
        [entry] = await history(sessions, row.id)
        assert (entry.kind, entry.rule) == ("reassign_skipped", "unanswered-reassign")
        assert entry.detail == (
            "unanswered for 60 minutes; nobody else available to take it; stays with Alice"
        )
        assert await assigned_events(sessions, row.id) == []

        assert await reassign_unanswered(sessions, now=datetime.now(UTC)) == 0
        assert len(await history(sessions, row.id)) == 1

    async def test_round_robin_departments_rotate_on_reassignment(self, sessions: Sessions) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_reassign_after(sessions, seed, 30)
        await set_routing_strategy(sessions, seed, "round_robin")
        alice, bob, carl = (seed.users[n] for n in ("alice", "bob", "carl"))
        async with sessions() as session, session.begin():
            await session.execute(
                update(Department)
                .where(col(Department.id) == seed.department.id)
                .values(round_robin_last_user_id=alice.id)
            )
        first = await unanswered(sessions, seed, bob, timedelta(hours=2))
        second = await unanswered(sessions, seed, bob, timedelta(hours=1))
        assert await reassign_unanswered(sessions, now=datetime.now(UTC)) == 2
        # after Alice comes Bob, who holds the ticket: Carl; then after Carl, Alice
        assert (await ticket(sessions, first.id)).assignee_id == carl.id
        assert (await ticket(sessions, second.id)).assignee_id == alice.id
        assert (await department(sessions, seed)).round_robin_last_user_id == alice.id

    async def test_two_scanners_at_once_reassign_each_ticket_once(self, sessions: Sessions) -> None:
        seed = await seed_tenant(sessions, TEAM)
        await set_reassign_after(sessions, seed, 30)
        alice = seed.users["alice"]
        rows = [await unanswered(sessions, seed, alice, timedelta(hours=1)) for _ in range(20)]
        now = datetime.now(UTC)

        async def scanner() -> int:
            total = 0
            while done := await reassign_unanswered(sessions, now=now, batch=3):
                total += done
            return total

        first, second = await asyncio.gather(scanner(), scanner())
        assert first + second == 20
        for row in rows:
            assert (await ticket(sessions, row.id)).assignee_id == seed.users["bob"].id
            assert [h.kind for h in await history(sessions, row.id)] == ["assigned"]
            assert len(await assigned_events(sessions, row.id)) == 1
        assert await assignee_counts(sessions, seed) == {"bob": 20}
