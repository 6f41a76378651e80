"""A ticket's open event stream stops when the right to see the ticket goes.

The stream checks visibility when it opens and again before every event it sends, so a
user whose assignment is removed, who is deactivated, or whose ticket is deleted while
their stream is open hears nothing more of it: the stream ends at the next event instead.
Each case first shows the stream delivering a change (the control), then revokes, then
notifies another change. The streams are driven in-process on the real PostgreSQL, woken
the way the listener wakes them (`TicketHub.notified`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from postdesk_contracts.api_ticket_live import TicketChanged, TicketChangeNotice, TicketPresence
from postdesk_gateway import db
from postdesk_gateway.live import Heartbeat, NotificationListener
from postdesk_gateway.ticket_live import TicketHub, TicketStreams
from postdesk_runtime import Sessions
from postdesk_schema import AssignmentRole, EmailAssignment, Ticket, User
from sqlmodel import col, update

pytestmark = pytest.mark.integration

Event = TicketPresence | TicketChanged | Heartbeat


@dataclass
class OpenListener:
    """What a stream reads of the listener: whether it has closed."""

    closed: bool = False


async def revoke_assignment(sessions: Sessions, user: User, ticket: Ticket) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(EmailAssignment)
            .where(
                col(EmailAssignment.user_id) == user.id,
                col(EmailAssignment.account_id) == ticket.account_id,
            )
            .values(is_active=False)
        )


async def deactivate_user(sessions: Sessions, user: User, ticket: Ticket) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(User).where(col(User.id) == user.id).values(is_active=False))


async def delete_ticket(sessions: Sessions, user: User, ticket: Ticket) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Ticket).where(col(Ticket.id) == ticket.id).values(deleted_at=datetime.now(UTC))
        )


@pytest.mark.parametrize("revoke", [revoke_assignment, deactivate_user, delete_ticket])
async def test_the_stream_ends_at_the_next_event_once_the_ticket_is_out_of_sight(
    sessions: Sessions, world: Any, revoke: Any
) -> None:
    """Before: a change arrives. After the revocation: the next change ends the stream."""
    account = world.accounts["support"]
    suffix = uuid.uuid4().hex[:8]
    ticket = Ticket(
        tenant_id=world.tenant_a, number=50_000 + int(suffix[:4], 16), account_id=account.id,
        subject="Live", customer_email="c@client.test", message_count=1,
    )  # fmt: skip
    user = User(
        tenant_id=world.tenant_a, email=f"watcher-{suffix}@example.test",
        password_hash="x", full_name="Watcher",
    )  # fmt: skip
    async with sessions() as session, session.begin():
        session.add_all([ticket, user])
        await session.flush()
        session.add(
            EmailAssignment(
                tenant_id=world.tenant_a, account_id=account.id, user_id=user.id,
                role=AssignmentRole.BACKUP,
            )
        )  # fmt: skip
    async with sessions() as session:
        current = await db.load_active_user(session, user.id, user.tenant_id)
    assert current is not None
    hub = TicketHub(ttl=60)
    streams = TicketStreams(
        hub,
        cast(NotificationListener, OpenListener()),
        keepalive=timedelta(minutes=5),
        sessions=sessions,
    )
    events = streams.events(current, ticket.id, until=datetime.now(UTC) + timedelta(minutes=5))
    assert isinstance(await anext(events), TicketPresence)
    assert (await changed_next(hub, events, ticket, "updated")).changes == ["updated"]

    await revoke(sessions, user, ticket)
    with pytest.raises(StopAsyncIteration):
        await changed_next(hub, events, ticket, "note_added")


async def changed_next(
    hub: TicketHub, events: AsyncIterator[Event], ticket: Ticket, change: str
) -> TicketChanged:
    """Notify `change` of the ticket as the listener would; the stream's next event."""
    notice = TicketChangeNotice(tenant_id=ticket.tenant_id, ticket_id=ticket.id, change=change)
    hub.notified(notice.model_dump_json())
    event = await anext(events)
    assert isinstance(event, TicketChanged)
    return event
