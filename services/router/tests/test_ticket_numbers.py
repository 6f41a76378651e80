"""Ticket numbers taken in a transaction of their own (docs/adr/0013): a tenant's new tickets
do not wait for each other's routing transactions, numbers stay unique and rising, and a
routing transaction that rolls back leaves a gap, never a duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from postdesk_router.service import (
    RouteStatus,
    default_thread_tokens,
    route_in_transaction,
    route_message,
)
from postdesk_runtime import BlobStore, Sessions, make_counter_engine
from postdesk_schema import TakeTicketNumber, TicketNumbers, take_ticket_number

from .factories import Seed, seed_tenant
from .test_service import PRIMARY, parsed_to, tickets_of

pytestmark = pytest.mark.integration

PATIENCE_SECONDS = 5.0  # far above one routing decision on a loaded machine


@pytest_asyncio.fixture
async def own_numbers(database_url: str) -> AsyncIterator[TicketNumbers]:
    engine = make_counter_engine(database_url)
    yield TicketNumbers(engine)
    await engine.dispose()


async def route_while_another_is_open(
    sessions: Sessions, blobs: BlobStore, seed: Seed, take_number: TakeTicketNumber
) -> int:
    """Open a ticket in a transaction left open, route a second new ticket of the tenant
    meanwhile (at most PATIENCE_SECONDS), then commit the first; the second's number."""
    second = await parsed_to(seed, blobs)
    async with sessions() as session, session.begin():
        first = await route_message(
            session,
            blobs,
            await parsed_to(seed, blobs),
            tokens=default_thread_tokens(),
            take_number=take_number,
        )
        assert first.status is RouteStatus.ROUTED
        outcome = await asyncio.wait_for(
            route_in_transaction(sessions, blobs, second, take_number=take_number),
            PATIENCE_SECONDS,
        )
    assert outcome.status is RouteStatus.ROUTED
    [ticket] = [t for t in await tickets_of(sessions, seed) if t.id == outcome.ticket_id]
    return ticket.number


async def test_a_new_ticket_does_not_wait_for_another_open_routing_transaction(
    sessions: Sessions, blobs: BlobStore, own_numbers: TicketNumbers
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    assert await route_while_another_is_open(sessions, blobs, seed, own_numbers) == 2
    assert sorted(t.number for t in await tickets_of(sessions, seed)) == [1, 2]


async def test_numbers_taken_inside_the_transaction_wait_for_it(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """The contrast that makes the test above mean something: the tenant row stays locked."""
    seed = await seed_tenant(sessions, [PRIMARY])
    with pytest.raises(TimeoutError):
        await route_while_another_is_open(sessions, blobs, seed, take_ticket_number)


async def test_concurrent_new_tickets_get_distinct_numbers_and_a_rollback_a_gap(
    sessions: Sessions, blobs: BlobStore, own_numbers: TicketNumbers
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    async with sessions() as session, session.begin():
        await route_message(
            session,
            blobs,
            await parsed_to(seed, blobs),
            tokens=default_thread_tokens(),
            take_number=own_numbers,
        )
        await session.rollback()  # number 1 taken and committed, its ticket never

    events = [await parsed_to(seed, blobs) for _ in range(12)]
    outcomes = await asyncio.gather(
        *(route_in_transaction(sessions, blobs, e, take_number=own_numbers) for e in events)
    )

    assert {o.status for o in outcomes} == {RouteStatus.ROUTED}
    assert sorted(t.number for t in await tickets_of(sessions, seed)) == list(range(2, 14))
