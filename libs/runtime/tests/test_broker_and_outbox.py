"""The runtime kit against the machine's RabbitMQ and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest
from aiormq.exceptions import PublishError
from postdesk_contracts import EventType, MailReceived, new_envelope
from postdesk_contracts.events import Channel
from postdesk_contracts.topology import queue_for
from postdesk_runtime import (
    EventPublisher,
    LocalBlobStore,
    OutboxRelay,
    claim_event,
    declare_topology,
    make_broker,
    make_engine,
    make_sessions,
    outbox_row,
)

pytestmark = pytest.mark.integration


def mail_received() -> MailReceived:
    return MailReceived(
        raw_blob_ref="sha256:" + "0" * 64,
        sha256="0" * 64,
        size=1,
        channel=Channel.WEBHOOK,
        received_at=datetime.now(UTC),
    )


async def drain(amqp_url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        q = await channel.get_queue(queue, ensure=True)
        got = []
        while (message := await q.get(fail=False, no_ack=True)) is not None:
            got.append(message)
        return got


async def test_subscribed_event_reaches_consumer_queue(amqp_url: str) -> None:
    """A confirmed publish of mail.received lands in the parser's queue, persistent."""
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    envelope = new_envelope(EventType.MAIL_RECEIVED, mail_received())
    await EventPublisher(broker).publish(envelope)
    await broker.stop()
    got = await drain(amqp_url, queue_for("parser", EventType.MAIL_RECEIVED).name)
    assert [m.message_id for m in got] == [str(envelope.id)]
    assert got[0].delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_unroutable_mandatory_publish_raises(amqp_url: str) -> None:
    """Without the consumer's binding, publishing mail.received fails instead of vanishing."""
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    channel = await (await aio_pika.connect(amqp_url)).channel()
    queue = await channel.get_queue(queue_for("parser", EventType.MAIL_RECEIVED).name)
    await queue.unbind("postdesk.events", EventType.MAIL_RECEIVED.value)
    try:
        with pytest.raises(PublishError):
            await EventPublisher(broker).publish(
                new_envelope(EventType.MAIL_RECEIVED, mail_received())
            )
    finally:
        await queue.bind("postdesk.events", EventType.MAIL_RECEIVED.value)
        await channel.close()
        await broker.stop()


async def test_outbox_relay_publishes_committed_rows_once(database_url: str, amqp_url: str) -> None:
    """Rows committed to the outbox are published and marked; a second pass publishes nothing."""
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    relay = OutboxRelay("test", sessions, EventPublisher(broker))
    envelopes = [new_envelope(EventType.MAIL_RECEIVED, mail_received()) for _ in range(3)]
    async with sessions() as session, session.begin():
        session.add_all([outbox_row("test", e) for e in envelopes])
    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 0
    await broker.stop()
    await engine.dispose()
    got = await drain(amqp_url, queue_for("parser", EventType.MAIL_RECEIVED).name)
    assert sorted(m.message_id or "" for m in got) == sorted(str(e.id) for e in envelopes)


async def test_claim_event_is_true_once(database_url: str) -> None:
    """The inbox claims an event id for a consumer exactly once."""
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    event_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        assert await claim_event(session, "c", event_id)
    async with sessions() as session, session.begin():
        assert not await claim_event(session, "c", event_id)
        assert await claim_event(session, "other", event_id)
    await engine.dispose()


async def test_blob_store_round_trip(tmp_path: Path) -> None:
    """Blobs are content-addressed: the same bytes give the same ref, and read back whole."""
    store = LocalBlobStore(tmp_path)
    ref = await store.put(b"hello")
    assert ref == await store.put(b"hello")
    assert await store.get(ref) == b"hello"
    assert not list(tmp_path.rglob(".incoming-*"))
