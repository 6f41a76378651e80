"""The invariant checker catches what it must: each test breaks one thing in a consistent world.

The first test shows the world as built holds, so each other test fails for
the one thing it broke. The last two read the real database and broker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio
from postdesk_contracts import EventType
from postdesk_contracts.topology import DEAD_LETTER_EXCHANGE, queue_for
from postdesk_runtime import declare_topology, make_broker, make_engine
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.faults.invariant import (
    AcceptedMail,
    Expectations,
    HistoryRow,
    MessageRow,
    NotificationRow,
    Snapshot,
    TicketRow,
    check,
    judge,
)

TENANT = uuid.uuid4()
AGENT = uuid.uuid4()
ROUTER_PARSED = queue_for("router", EventType.MAIL_PARSED).name


def accepted_mails(count: int) -> list[AcceptedMail]:
    return [
        AcceptedMail(TENANT, f"<m{n}@customer.example>", hashlib.sha256(b"%d" % n).hexdigest())
        for n in range(count)
    ]


def consistent_world(mails: list[AcceptedMail]) -> Snapshot:
    """Each mail stored and published, one message on a ticket of its own, matched once,
    assigned once to AGENT, who was told once, and answered once at the sink."""
    messages, tickets, history, notifications = [], {}, [], []
    answers: dict[str, list[str]] = {}
    for mail in mails:
        message_id, ticket_id = uuid.uuid4(), uuid.uuid4()
        messages.append(MessageRow(message_id, TENANT, mail.message_id.strip("<>"), ticket_id))
        tickets[ticket_id] = TicketRow(ticket_id, AGENT, None, deleted=False)
        history.append(HistoryRow(ticket_id, "matched", "new-ticket", message_id))
        history.append(HistoryRow(ticket_id, "assigned", "primary", None))
        history.append(HistoryRow(ticket_id, "auto_reply", "sent", message_id))
        notifications.append(NotificationRow(ticket_id, AGENT, "assigned", 1))
        answers[mail.message_id.strip("<>")] = [f"<pd.{ticket_id}@acme.example>"]
    return Snapshot(
        ingest_statuses={mail.sha256: ["published"] for mail in mails},
        messages=messages,
        tickets=tickets,
        history=history,
        notifications=notifications,
        dead_letters={},
        answers=answers,
    )


def test_a_consistent_world_holds() -> None:
    mails = accepted_mails(3)
    report = judge(mails, consistent_world(mails))
    assert report.holds, str(report)
    assert str(report) == "invariant holds for 3 accepted mails"
    assert report.answers_requested == 3


def test_a_duplicate_message_is_caught() -> None:
    mails = accepted_mails(3)
    world = consistent_world(mails)
    twin = dataclasses.replace(world.messages[1], id=uuid.uuid4())
    world = dataclasses.replace(
        world,
        messages=[*world.messages, twin],
        history=[*world.history, HistoryRow(twin.ticket_id, "matched", "in-reply-to", twin.id)],
    )
    report = judge(mails, world)
    assert report.rules() == {"duplicate"}, str(report)
    assert "<m1@customer.example>" in str(report)
    assert "2 messages" in str(report)


def test_a_message_routed_twice_is_caught() -> None:
    mails = accepted_mails(2)
    world = consistent_world(mails)
    again = HistoryRow(world.messages[0].ticket_id, "matched", "new-ticket", world.messages[0].id)
    report = judge(mails, dataclasses.replace(world, history=[*world.history, again]))
    assert report.rules() == {"matched"}, str(report)
    assert "matched 2 times" in str(report)


def test_a_missing_message_is_caught() -> None:
    mails = accepted_mails(3)
    world = consistent_world(mails[:2])
    world = dataclasses.replace(
        world, ingest_statuses={**world.ingest_statuses, mails[2].sha256: ["published"]}
    )
    report = judge(mails, world)
    assert report.rules() == {"missing"}, str(report)
    assert [v.subject for v in report.violations] == [str(mails[2])]


def test_a_mail_acknowledged_but_never_published_is_caught() -> None:
    mails = accepted_mails(2)
    world = consistent_world(mails)
    statuses = {**world.ingest_statuses, mails[0].sha256: ["stored"]}
    report = judge(mails, dataclasses.replace(world, ingest_statuses=statuses))
    assert report.rules() == {"acknowledged"}, str(report)
    assert "['stored']" in str(report)


def test_a_double_assignment_is_caught() -> None:
    mails = accepted_mails(2)
    world = consistent_world(mails)
    ticket = world.messages[0].ticket_id
    second = HistoryRow(ticket, "assigned", "backup", None)
    report = judge(mails, dataclasses.replace(world, history=[*world.history, second]))
    assert report.rules() == {"assigned"}, str(report)
    assert f"ticket {ticket}" in str(report)
    assert "assigned 2 times ['primary', 'backup']" in str(report)


def test_a_ticket_left_unassigned_is_caught_when_an_assignee_is_expected() -> None:
    mails = accepted_mails(1)
    world = consistent_world(mails)
    ticket = world.messages[0].ticket_id
    world = dataclasses.replace(
        world,
        tickets={ticket: TicketRow(ticket, None, None, deleted=False)},
        history=[
            dataclasses.replace(h, rule="unassigned") if h.kind == "assigned" else h
            for h in world.history
        ],
        notifications=[],
    )
    assert judge(mails, world).rules() == {"assigned"}
    expect = Expectations(assignee=False)
    assert judge(mails, world, expect).holds


def test_a_double_or_missing_notification_is_caught() -> None:
    mails = accepted_mails(2)
    world = consistent_world(mails)
    doubled = [dataclasses.replace(world.notifications[0], event_count=2), world.notifications[1]]
    report = judge(mails, dataclasses.replace(world, notifications=doubled))
    assert report.rules() == {"notified"}, str(report)
    assert "told 2 times of assigned" in str(report)
    report = judge(mails, dataclasses.replace(world, notifications=world.notifications[1:]))
    assert report.rules() == {"notified"}, str(report)
    assert "never told of assignment" in str(report)


def test_a_message_on_a_merged_away_ticket_is_caught() -> None:
    mails = accepted_mails(1)
    world = consistent_world(mails)
    ticket = world.messages[0].ticket_id
    merged = TicketRow(ticket, AGENT, merged_into_id=uuid.uuid4(), deleted=False)
    report = judge(mails, dataclasses.replace(world, tickets={ticket: merged}))
    assert report.rules() == {"ticket"}, str(report)


def test_an_unexpected_dead_letter_is_caught_and_a_poisoned_one_is_not() -> None:
    mails = accepted_mails(2)
    world = dataclasses.replace(consistent_world(mails), dead_letters={ROUTER_PARSED: 1})
    report = judge(mails, world)
    assert report.rules() == {"dead-letter"}, str(report)
    assert f"{ROUTER_PARSED}.dlq: holds 1 messages; the scenario poisoned 0" in str(report)
    assert judge(mails, world, Expectations(dead_letters={ROUTER_PARSED: 1})).holds
    # poisoned on purpose but never dead-lettered: also a violation
    clean = consistent_world(mails)
    assert judge(mails, clean, Expectations(dead_letters={ROUTER_PARSED: 1})).rules() == {
        "dead-letter"
    }


def test_an_answer_sent_twice_or_never_is_caught() -> None:
    mails = accepted_mails(3)
    world = consistent_world(mails)
    answers = dict(world.answers or {})
    first, second, third = (m.message_id.strip("<>") for m in mails)
    answers[first] = [*answers[first], "<another@acme.example>"]  # a second, different answer
    answers[second] = [*answers[second], *answers[second]]  # one answer, sent again
    del answers[third]  # requested, never sent
    report = judge(mails, dataclasses.replace(world, answers=answers))
    assert report.rules() == {"answered"}, str(report)
    assert [v.detail.split(" [")[0].split(" ['")[0] for v in report.violations] == [
        "2 answers at the sink",
        "2 copies of the answer",
        "0 answers at the sink",
    ], str(report)
    # the copies under one Message-ID are the documented trade of ADR 0009, when allowed
    allowed = judge(
        mails, dataclasses.replace(world, answers=answers), Expectations(resent_copies=True)
    )
    assert len(allowed.violations) == 2


def test_an_answer_requested_twice_or_unrequested_is_caught() -> None:
    mails = accepted_mails(2)
    world = consistent_world(mails)
    first = world.messages[0]
    twice = HistoryRow(first.ticket_id, "auto_reply", "sent", first.id)
    report = judge(mails, dataclasses.replace(world, history=[*world.history, twice]))
    assert [str(v.detail) for v in report.violations] == ["answer requested 2 times"]
    unrequested = [
        h for h in world.history if not (h.kind == "auto_reply" and h.message_id == first.id)
    ]
    report = judge(mails, dataclasses.replace(world, history=unrequested))
    assert report.rules() == {"answered"}
    assert "answered unrequested" in str(report)


@pytest_asyncio.fixture(loop_scope="session")
async def engine(private_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(private_database_url, pool_size=1)
    yield engine
    await engine.dispose()


@pytest.mark.integration
async def test_the_real_database_and_broker_are_read(
    engine: AsyncEngine, private_amqp_url: str
) -> None:
    """An accepted mail that never reached the database is missing and not acknowledged; a
    message RabbitMQ really dead-lettered is counted in its queue's .dlq."""
    mails = accepted_mails(1)
    broker = make_broker(private_amqp_url)
    await broker.connect()
    try:
        await declare_topology(broker)
    finally:
        await broker.stop()
    assert (await check(engine, private_amqp_url, mails, Expectations())).rules() == {
        "missing",
        "acknowledged",
    }

    connection = await aio_pika.connect(private_amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.get_exchange(DEAD_LETTER_EXCHANGE)
        await dead.publish(
            aio_pika.Message(b"{}", message_id=str(uuid.uuid4())), routing_key=ROUTER_PARSED
        )
    report = await check(engine, private_amqp_url, [], Expectations())
    assert report.rules() == {"dead-letter"}, str(report)
    assert f"{ROUTER_PARSED}.dlq: holds 1 messages" in str(report)
    assert (await check(engine, private_amqp_url, [], Expectations({ROUTER_PARSED: 1}))).holds
