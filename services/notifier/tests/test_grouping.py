"""Grouping bursts into one notification per user, and the live push, on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from postdesk_notifier.email_channel import send_due_emails
from postdesk_notifier.grouping import LIVE_CHANNEL
from postdesk_notifier.service import NotifyStatus
from postdesk_runtime import Sessions
from postdesk_schema import Notification, OutboxEvent
from sqlalchemy import func, select, update
from sqlmodel import col

from .factories import AT_WORK_TIME, WINDOW, Desk, consume_in_transaction, notifications_of

pytestmark = pytest.mark.integration

WANTS_EMAIL = {"customer_reply": {"email": True}}


async def outbound_requests_for(sessions: Sessions, *emails: str) -> list[OutboxEvent]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(col(OutboxEvent.routing_key) == "outbound.requested")
        )
        return [r for r in rows if any(e in r.body for e in emails)]


async def test_a_burst_of_fifty_mails_is_one_notification_and_one_email_per_user(
    sessions: Sessions,
) -> None:
    """50 replies on one ticket within a minute, handled concurrently: each primary has one
    notification counting 50, and after the window exactly one email saying so."""
    desk = await Desk.create(sessions)
    ana = await desk.user("Ana", notification_preferences=WANTS_EMAIL)
    bo = await desk.user("Bo", notification_preferences=WANTS_EMAIL)
    for user in (ana, bo):
        await desk.assign(user)
    ticket = await desk.ticket(subject="Everything is broken")
    events = [desk.message_added(ticket) for _ in range(50)]

    outcomes = await asyncio.gather(
        *(
            consume_in_transaction(sessions, e, now=AT_WORK_TIME + timedelta(seconds=i))
            for i, e in enumerate(events)
        )
    )

    assert {o.status for o in outcomes} == {NotifyStatus.NOTIFIED}
    found = await notifications_of(sessions, ana, bo)
    assert sorted((n.user_id, n.event_count) for n in found) == sorted([(ana.id, 50), (bo.id, 50)])
    assert {n.title for n in found} == {"50 new replies on #1: Everything is broken"}
    assert {n.updated_at for n in found} == {AT_WORK_TIME + timedelta(seconds=49)}
    assert sum(o.emitted for o in outcomes) == 1  # notification.created for the new rows only

    # The window opens with whichever event commits first, so it closes between
    # AT_WORK_TIME + WINDOW and 49 seconds later.
    before_due = AT_WORK_TIME + WINDOW - timedelta(seconds=1)
    await send_due_emails(sessions, now=before_due)
    assert await outbound_requests_for(sessions, ana.email, bo.email) == []
    for _ in range(2):
        await send_due_emails(sessions, now=AT_WORK_TIME + timedelta(seconds=49) + WINDOW)
    mails = await outbound_requests_for(sessions, ana.email, bo.email)
    assert len(mails) == 2
    assert [sum(ana.email in m.body for m in mails), sum(bo.email in m.body for m in mails)] == [
        1,
        1,
    ]
    assert all("This notification groups 50 events." in m.body for m in mails)


async def test_a_group_closes_with_its_window_or_when_read(sessions: Sessions) -> None:
    """After the window, or once the user has read it, the next event starts a new row;
    other kinds and other tickets never share a row."""
    desk = await Desk.create(sessions)
    ana = await desk.handler("Ana")
    ticket, other_ticket = await desk.ticket(ana), await desk.ticket(ana)

    await consume_in_transaction(sessions, desk.message_added(ticket), now=AT_WORK_TIME)
    await consume_in_transaction(
        sessions, desk.message_added(ticket), now=AT_WORK_TIME + WINDOW - timedelta(seconds=1)
    )
    await consume_in_transaction(
        sessions, desk.message_added(ticket), now=AT_WORK_TIME + WINDOW + timedelta(seconds=1)
    )
    await consume_in_transaction(
        sessions, desk.message_added(other_ticket), now=AT_WORK_TIME + WINDOW
    )
    await consume_in_transaction(
        sessions, desk.assigned(ticket, ana), now=AT_WORK_TIME + WINDOW + timedelta(seconds=2)
    )
    async with sessions() as session, session.begin():
        await session.execute(
            update(Notification)
            .where(col(Notification.user_id) == ana.id)
            .values(read_at=func.now())
        )
    await consume_in_transaction(
        sessions, desk.message_added(ticket), now=AT_WORK_TIME + WINDOW + timedelta(seconds=3)
    )

    found = await notifications_of(sessions, ana)
    assert [(n.kind, n.ticket_id, n.event_count) for n in found] == [
        ("customer_reply", ticket.id, 2),
        ("customer_reply", other_ticket.id, 1),
        ("customer_reply", ticket.id, 1),
        ("assigned", ticket.id, 1),
        ("customer_reply", ticket.id, 1),
    ]


async def test_email_only_notifications_group_too(sessions: Sessions) -> None:
    """A user who wants replies by email only gets one read row counting the burst."""
    desk = await Desk.create(sessions)
    mail_only = await desk.user(
        "Mo", notification_preferences={"customer_reply": {"in_app": False, "email": True}}
    )
    await desk.assign(mail_only)
    ticket = await desk.ticket(mail_only)

    for second in range(3):
        await consume_in_transaction(
            sessions, desk.message_added(ticket), now=AT_WORK_TIME + timedelta(seconds=second)
        )

    [note] = await notifications_of(sessions, mail_only)
    assert (note.event_count, note.email_status, note.read_at) == (3, "pending", AT_WORK_TIME)


class Listener:
    """A LISTEN on the live channel, as the gateway holds one."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.heard: asyncio.Queue[str] = asyncio.Queue()

    def on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self.heard.put_nowait(str(payload))

    async def next(self) -> str:
        return await asyncio.wait_for(self.heard.get(), timeout=10)

    async def nothing_more(self) -> bool:
        await self.connection.execute("SELECT 1")  # a round trip: earlier pushes have arrived
        return self.heard.empty()


@contextlib.asynccontextmanager
async def listening(database_url: str) -> AsyncIterator[Listener]:
    connection = await asyncpg.connect(database_url)
    listener = Listener(connection)
    await connection.add_listener(LIVE_CHANNEL, listener.on_notify)
    try:
        yield listener
    finally:
        await connection.remove_listener(LIVE_CHANNEL, listener.on_notify)
        await connection.close()


async def test_new_and_folded_notifications_are_pushed_live_on_commit(
    sessions: Sessions, database_url: str
) -> None:
    """A LISTENer on postdesk_notifications hears the user's id for a new row and for a fold,
    and nothing for an event that notifies nobody."""
    desk = await Desk.create(sessions)
    ana = await desk.handler("Ana")
    ticket = await desk.ticket(ana)

    async with listening(database_url) as listener:
        await consume_in_transaction(sessions, desk.message_added(ticket))
        assert await listener.next() == str(ana.id)
        await consume_in_transaction(sessions, desk.message_added(ticket))
        assert await listener.next() == str(ana.id)
        await consume_in_transaction(sessions, desk.message_added(ticket, mail_kind="spam"))
        assert await listener.nothing_more()
        await consume_in_transaction(sessions, desk.message_added(ticket))
        assert await listener.next() == str(ana.id)
        assert await listener.nothing_more()

    [note] = await notifications_of(sessions, ana)
    assert note.event_count == 3
