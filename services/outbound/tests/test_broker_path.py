"""The outbound service as it runs: outbound.requested from RabbitMQ in, a record and mail.failed out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from postdesk_outbound.domain import NO_SMTP_REASON
from postdesk_outbound.main import create_app
from postdesk_outbound.settings import OutboundSettings
from postdesk_runtime import EventPublisher, Sessions, declare_topology, make_broker
from postdesk_schema import OutboundMessage
from postdesk_testing import drain, eventually, tap

from .factories import make_event, make_request, seed_account

pytestmark = pytest.mark.integration


async def test_outbound_requested_from_broker_fails_clearly(
    database_url: str, amqp_url: str, sessions: Sessions
) -> None:
    """A published outbound.requested is recorded by the running app and mail.failed goes out."""
    seed = await seed_account(sessions)
    request = make_request(seed)
    event = make_event(seed, request)
    app = create_app(OutboundSettings(amqp_url=amqp_url, database_url=database_url))
    publisher_broker = make_broker(amqp_url)
    async with tap(amqp_url, "mail.failed") as queue, app.start_lifespan_context():
        try:
            await publisher_broker.connect()
            await declare_topology(publisher_broker)
            await EventPublisher(publisher_broker).publish(event)

            async def recorded() -> OutboundMessage | None:
                async with sessions() as session:
                    return await session.get(OutboundMessage, request.outbound_id)

            async def failed() -> dict[str, Any] | None:
                for message in await drain(queue):
                    envelope: dict[str, Any] = json.loads(message.body)
                    if envelope["causation_id"] == str(event.id):
                        return envelope
                return None

            stored = await eventually(recorded)
            emitted = await eventually(failed)
        finally:
            await publisher_broker.stop()

    assert (stored.status, stored.failure_reason) == ("failed", NO_SMTP_REASON)
    assert emitted["payload"]["outbound_id"] == str(request.outbound_id)
    assert emitted["payload"]["reason"] == NO_SMTP_REASON
    assert emitted["payload"]["permanent"] is True
