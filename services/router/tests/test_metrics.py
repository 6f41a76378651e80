"""The router's /metrics as Prometheus scrapes it, after a message went through the running app."""

from __future__ import annotations

from pathlib import Path

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
from postdesk_testing import eventually, sample_value
from sqlalchemy import select
from sqlmodel import col

from .factories import make_event, make_parsed, seed_tenant, store_body

pytestmark = pytest.mark.integration

CONSUMED = "postdesk_messages_consumed_total"
LATENCY_COUNT = "postdesk_handler_duration_seconds_count"
LAG_COUNT = "postdesk_queue_lag_seconds_count"
PUBLISHED = "postdesk_messages_published_total"


async def test_a_consumed_message_is_counted_timed_and_scraped(
    database_url: str, private_amqp_url: str, blob_dir: Path, sessions: Sessions
) -> None:
    """Its own vhost: no other test's mail.parsed can reach this app and move the counter."""
    seed = await seed_tenant(sessions, [("pat", AssignmentRole.PRIMARY, 0, True, True)])
    event = make_event(
        make_parsed(
            envelope_recipients=[seed.address],
            to=[Address(email=seed.address)],
            body_blob_ref=await store_body(make_blob_store(RouterSettings(blob_dir=blob_dir))),
        )
    )
    app = create_app(
        RouterSettings(amqp_url=private_amqp_url, database_url=database_url, blob_dir=blob_dir)
    )
    publisher_broker = make_broker(private_amqp_url)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router")
    async with http, app.start_lifespan_context():
        try:
            await publisher_broker.connect()
            await declare_topology(publisher_broker)
            before = (await http.get("/metrics")).text
            await EventPublisher(publisher_broker).publish(event)

            async def ticket() -> Ticket | None:
                async with sessions() as session:
                    return (
                        await session.scalars(
                            select(Ticket).where(col(Ticket.tenant_id) == seed.tenant.id)
                        )
                    ).one_or_none()

            await eventually(ticket)

            async def scraped_after_handling() -> httpx.Response | None:
                response = await http.get("/metrics")
                handled = sample_value(response.text, CONSUMED, event_type="mail.parsed")
                published = sample_value(response.text, PUBLISHED, event_type="ticket.created")
                return (
                    response
                    if handled
                    and published > sample_value(before, PUBLISHED, event_type="ticket.created")
                    else None
                )

            after = await eventually(scraped_after_handling)
        finally:
            await publisher_broker.stop()

    def delta(sample: str, **labels: str) -> float:
        return sample_value(after.text, sample, **labels) - sample_value(before, sample, **labels)

    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    assert delta(CONSUMED, event_type="mail.parsed", outcome="handled") == 1
    assert delta(CONSUMED, event_type="mail.parsed", outcome="failed") == 0
    assert delta(LATENCY_COUNT, event_type="mail.parsed") == 1
    assert delta(LAG_COUNT, event_type="mail.parsed") == 1
    assert delta(PUBLISHED, event_type="ticket.created") >= 1
    # No tenant ids or addresses in any label
    assert str(seed.tenant.id) not in after.text
    assert seed.address not in after.text
