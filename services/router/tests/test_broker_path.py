"""The router as it runs: mail.parsed from RabbitMQ in, a ticket in PostgreSQL, events out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from postdesk_contracts import Address
from postdesk_router.main import create_app
from postdesk_router.settings import RouterSettings
from postdesk_runtime import (
    EventPublisher,
    Sessions,
    declare_topology,
    make_blob_store,
    make_broker,
)
from postdesk_schema import AssignmentRole, Ticket
from postdesk_testing import drain, eventually, tap
from sqlalchemy import select
from sqlmodel import col

from .factories import make_event, make_parsed, seed_tenant, store_body

pytestmark = pytest.mark.integration

EMITTED = ("ticket.created", "ticket.message_added", "ticket.assigned")


async def collect(
    queue: aio_pika.abc.AbstractQueue, correlation: str, want: int
) -> dict[str, dict[str, Any]]:
    """Read the queue until `want` events of the correlation have arrived, keyed by type."""
    got: dict[str, dict[str, Any]] = {}

    async def more() -> dict[str, dict[str, Any]] | None:
        for message in await drain(queue):
            envelope = json.loads(message.body)
            if envelope["correlation_id"] == correlation:
                got[envelope["type"]] = envelope
        return got if len(got) >= want else None

    return await eventually(more)


async def test_mail_parsed_from_broker_becomes_ticket_and_events(
    database_url: str, amqp_url: str, blob_dir: Path, sessions: Sessions
) -> None:
    """A published mail.parsed is routed by the running app and its three events reach the exchange."""
    seed = await seed_tenant(sessions, [("pat", AssignmentRole.PRIMARY, 0, True, True)])
    event = make_event(
        make_parsed(
            envelope_recipients=[seed.address],
            to=[Address(email=seed.address)],
            # sealed as the parser's would be; the app reads it through its own wrapper
            body_blob_ref=await store_body(make_blob_store(RouterSettings(blob_dir=blob_dir))),
        )
    )
    app = create_app(
        RouterSettings(amqp_url=amqp_url, database_url=database_url, blob_dir=blob_dir)
    )
    publisher_broker = make_broker(amqp_url)
    async with tap(amqp_url, *EMITTED) as queue, app.start_lifespan_context():
        try:
            await publisher_broker.connect()
            await declare_topology(publisher_broker)
            await EventPublisher(publisher_broker).publish(event)

            async def ticket() -> Ticket | None:
                async with sessions() as session:
                    return (
                        await session.scalars(
                            select(Ticket).where(col(Ticket.tenant_id) == seed.tenant.id)
                        )
                    ).one_or_none()

            stored = await eventually(ticket)
            emitted = await collect(queue, str(event.correlation_id), len(EMITTED))
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://router"
            ) as http:
                ready = await http.get("/readyz")
        finally:
            await publisher_broker.stop()

    assert ready.status_code == 200
    assert ready.json()["checks"] == {"broker": "ok", "database": "ok"}
    assert stored.assignee_id == seed.users["pat"].id
    assert set(emitted) == set(EMITTED)
    assert emitted["ticket.created"]["payload"]["ticket_id"] == str(stored.id)
    assert emitted["ticket.assigned"]["payload"]["assignee_id"] == str(seed.users["pat"].id)
    assert all(e["causation_id"] == str(event.id) for e in emitted.values())
