"""The outbound service as it runs: outbound.requested from RabbitMQ in, the mail sent
through the tenant's SMTP server and mail.sent out, or mail.failed when it has none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from postdesk_contracts import Envelope, OutboundRequested
from postdesk_outbound.domain import NO_SMTP_REASON
from postdesk_outbound.main import create_app
from postdesk_outbound.settings import OutboundSettings
from postdesk_runtime import EventPublisher, Sessions, declare_topology, make_broker
from postdesk_schema import OutboundMessage
from postdesk_testing import drain, eventually, tap
from postdesk_testing.smtp import smtp_server

from .factories import make_event, make_request
from .sending import seed_sender

pytestmark = pytest.mark.integration


async def publish(amqp_url: str, *events: Envelope[OutboundRequested]) -> None:
    broker = make_broker(amqp_url)
    try:
        await broker.connect()
        await declare_topology(broker)
        for event in events:
            await EventPublisher(broker).publish(event)
    finally:
        await broker.stop()


async def test_outbound_requested_from_broker_is_sent_or_fails_clearly(
    database_url: str, amqp_url: str, sessions: Sessions, blob_dir: Path
) -> None:
    """A tenant with an SMTP server gets its mail delivered and mail.sent; one without gets
    a permanent mail.failed saying no server is configured."""
    settings = OutboundSettings(
        amqp_url=amqp_url,
        database_url=database_url,
        blob_dir=blob_dir,
        send_poll_interval_seconds=0.05,
    )
    async with smtp_server() as server:
        sending = await seed_sender(sessions, smtp_port=server.port)
        unconfigured = await seed_sender(sessions, smtp_port=None)
        to_send = make_event(sending, make_request(sending))
        to_fail = make_event(unconfigured, make_request(unconfigured))
        app = create_app(settings)
        async with (
            tap(amqp_url, "mail.sent", "mail.failed") as queue,
            app.start_lifespan_context(),
        ):
            await publish(amqp_url, to_send, to_fail)
            seen: dict[str, dict[str, Any]] = {}

            async def both_reported() -> dict[str, dict[str, Any]] | None:
                for message in await drain(queue):
                    envelope: dict[str, Any] = json.loads(message.body)
                    seen[envelope["causation_id"]] = envelope | {"_key": message.routing_key}
                wanted = {str(to_send.id), str(to_fail.id)}
                return seen if wanted <= seen.keys() else None

            reported = await eventually(both_reported, within=30)

    sent, failed = reported[str(to_send.id)], reported[str(to_fail.id)]
    assert sent["_key"] == "mail.sent"
    assert sent["payload"]["outbound_id"] == str(to_send.payload.outbound_id)
    assert len(server.received) == 1
    async with sessions() as session:
        row = await session.get(OutboundMessage, to_send.payload.outbound_id)
        refused = await session.get(OutboundMessage, to_fail.payload.outbound_id)
    assert row is not None
    assert refused is not None
    assert (row.status, sent["payload"]["raw_blob_ref"]) == ("sent", row.raw_blob_ref)
    assert failed["_key"] == "mail.failed"
    assert (failed["payload"]["reason"], failed["payload"]["permanent"]) == (NO_SMTP_REASON, True)
    assert (refused.status, refused.failure_reason) == ("failed", NO_SMTP_REASON)
