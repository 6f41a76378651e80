"""The router tells the gateways' ticket streams when mail joins a ticket: a notice on the
ticket events channel, heard on commit (against the real PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from postdesk_contracts import Address
from postdesk_contracts.api_ticket_live import TICKET_EVENTS_CHANNEL
from postdesk_router.service import route_in_transaction
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import AssignmentRole
from postdesk_schema.migrate import async_url

from .factories import make_event, make_parsed, seed_tenant, store_body

pytestmark = pytest.mark.integration

WAIT_SECONDS = 15


@pytest_asyncio.fixture
async def notices(database_url: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The notices on the ticket events channel while the test runs."""
    dsn = async_url(database_url).replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(dsn)
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await connection.add_listener(
        TICKET_EVENTS_CHANNEL, lambda _c, _p, _ch, payload: heard.put_nowait(json.loads(payload))
    )
    yield heard
    await connection.close()


async def test_a_reply_joining_a_ticket_is_notified(
    sessions: Sessions, blobs: BlobStore, notices: asyncio.Queue[dict[str, Any]]
) -> None:
    """A new ticket is nobody's open view yet: no notice; a reply that joins it sends
    message_added for that ticket and tenant."""
    seed = await seed_tenant(sessions, [("pat", AssignmentRole.PRIMARY, 0, True, True)])

    async def parsed(**overrides: Any) -> Any:
        body_ref = await store_body(blobs)
        to = [Address(email=seed.address)]
        return make_event(make_parsed(to=to, body_blob_ref=body_ref, **overrides))

    first = await parsed()
    opened = await route_in_transaction(sessions, blobs, first)
    reply = await parsed(in_reply_to=[first.payload.message_id], subject="Re: Printer on fire")
    joined = await route_in_transaction(sessions, blobs, reply)

    assert joined.ticket_id == opened.ticket_id
    ours: list[dict[str, Any]] = []  # other tests share the database and the channel
    async with asyncio.timeout(WAIT_SECONDS):
        while not ours:
            notice = await notices.get()
            if notice["tenant_id"] == str(seed.tenant.id):
                ours.append(notice)
    # Notices come in commit order: one for the first mail would have come before.
    assert ours == [
        {
            "kind": "ticket",
            "tenant_id": str(seed.tenant.id),
            "ticket_id": str(joined.ticket_id),
            "change": "message_added",
        }
    ]
