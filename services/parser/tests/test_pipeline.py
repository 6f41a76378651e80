"""The parser app against the machine's RabbitMQ and PostgreSQL: mail.received in, outcome out."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
import sqlalchemy as sa
from postdesk_contracts import Envelope, EventType, MailReceived, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.events import Channel
from postdesk_contracts.topology import queue_for
from postdesk_parser.main import create_app
from postdesk_parser.settings import ParserSettings
from postdesk_runtime import (
    EventPublisher,
    LocalBlobStore,
    declare_topology,
    make_blob_store,
    make_broker,
    make_engine,
)
from postdesk_testing import tap

pytestmark = pytest.mark.integration

ROUTER_QUEUE = queue_for("router", EventType.MAIL_PARSED).name

MAIL = (
    b"From: Alice <Alice@Customer.example>\r\n"
    b"To: support@acme.example\r\n"
    b"Subject: =?UTF-8?Q?Bestellung_versp=C3=A4tet?=\r\n"
    b"Message-ID: <%s@customer.example>\r\n"
    b"In-Reply-To: <ticket-1@acme.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy order is late.\r\n"
    b'--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename="order.csv"\r\n\r\n'
    b"id,qty\r\n1234,2\r\n--b--\r\n"
)


async def receive(
    raw: bytes, blob_dir: Path, *, event_id: uuid.UUID | None = None
) -> Envelope[Any]:
    """Store `raw` and build the mail.received ingest would publish for it."""
    ref = await make_blob_store(ParserSettings(blob_dir=blob_dir)).put(raw)
    return new_envelope(
        EventType.MAIL_RECEIVED,
        MailReceived(
            raw_blob_ref=ref,
            sha256=ref.removeprefix("sha256:"),
            size=len(raw),
            channel=Channel.WEBHOOK,
            envelope_recipients=["support@acme.example"],
            received_at=datetime.now(UTC),
        ),
        event_id=event_id,
    )


async def publish(amqp_url: str, *envelopes: Envelope[Any]) -> None:
    broker = make_broker(amqp_url)
    await broker.connect()
    try:
        for envelope in envelopes:
            await EventPublisher(broker).publish(envelope)
    finally:
        await broker.stop()


async def wait_for(
    queue: aio_pika.abc.AbstractQueue, message_id: str, count: int = 1, patience: float = 15.0
) -> list[dict[str, Any]]:
    """Bodies of the first `count` messages with `message_id` in `queue`; others are dropped."""
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(patience):
        while len(found) < count:
            message = await queue.get(fail=False, no_ack=True)
            if message is None:
                await asyncio.sleep(0.05)
            elif message.message_id == message_id:
                found.append(json.loads(message.body))
    return found


async def log_rows(database_url: str, dedupe_key: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                sa.text(
                    "SELECT status, event_id, message_id_header, detail FROM email_processing_logs "
                    "WHERE stage = 'parser' AND dedupe_key = :key"
                ),
                {"key": dedupe_key},
            )
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def observer(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A channel on the test vhost, after the topology is declared."""
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        yield await connection.channel()


@pytest_asyncio.fixture(loop_scope="session")
async def rejected_queue(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A temporary queue of our own bound to mail.rejected: the events are a public API."""
    async with tap(amqp_url, EventType.MAIL_REJECTED.value) as queue:
        yield queue


@pytest_asyncio.fixture(loop_scope="session")
async def parser(database_url: str, amqp_url: str, blob_dir: Path) -> AsyncIterator[None]:
    """The parser's own app (composition root, hooks and subscribers) running in this loop.

    `start()`/`stop()` rather than the ASGI lifespan context: pytest-asyncio sets a
    fixture up and tears it down in different tasks, which an anyio task group refuses.
    """
    app = create_app(
        ParserSettings(database_url=database_url, amqp_url=amqp_url, blob_dir=blob_dir)
    )
    await app.start()  # on_startup hooks (connect, declare), broker start, after_startup hooks
    yield
    await app.stop()  # on_shutdown hooks, broker stop (drains in-flight messages), after_shutdown


async def test_received_mail_becomes_mail_parsed(
    parser: None,
    observer: aio_pika.abc.AbstractChannel,
    database_url: str,
    amqp_url: str,
    blob_dir: Path,
) -> None:
    """A mail.received yields mail.parsed in the router's queue, with body and attachment blobs."""
    local_id = uuid.uuid4().hex.encode()
    received = await receive(MAIL % local_id, blob_dir)
    await publish(amqp_url, received)
    router_queue = await observer.get_queue(ROUTER_QUEUE)
    parsed_id = derived_event_id(received.id, "mail.parsed")
    [event] = await wait_for(router_queue, str(parsed_id))

    assert event["type"] == "mail.parsed"
    assert event["causation_id"] == str(received.id)
    assert event["correlation_id"] == str(received.id)
    payload = event["payload"]
    assert payload["message_id"] == f"{local_id.decode()}@customer.example"
    assert payload["subject"] == "Bestellung verspätet"
    assert payload["from"] == {"name": "Alice", "email": "alice@customer.example"}
    assert [a["email"] for a in payload["to"]] == ["support@acme.example"]
    assert payload["in_reply_to"] == ["ticket-1@acme.example"]
    assert payload["envelope_recipients"] == ["support@acme.example"]
    assert payload["text_preview"] == "My order is late."
    assert payload["raw_blob_ref"] == received.payload.raw_blob_ref
    blobs = make_blob_store(ParserSettings(blob_dir=blob_dir))  # encrypted, as the app's
    body = json.loads(await blobs.get(payload["body_blob_ref"]))
    assert body == {
        "text": "My order is late.",
        "html": None,
        "reply_text": "My order is late.",
        "signature": "",
        "remote_images_blocked": 0,
    }
    [attachment] = payload["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("order.csv", "text/csv")
    assert await blobs.get(attachment["blob_ref"]) == b"id,qty\r\n1234,2"
    on_disk = LocalBlobStore(blob_dir)
    assert b"My order is late" not in on_disk.path_of(payload["body_blob_ref"]).read_bytes()
    assert b"1234,2" not in on_disk.path_of(attachment["blob_ref"]).read_bytes()

    rows = await log_rows(database_url, str(received.id))
    assert [(r["status"], r["event_id"]) for r in rows] == [("parsed", parsed_id)]


async def test_garbage_becomes_mail_rejected(
    parser: None,
    rejected_queue: aio_pika.abc.AbstractQueue,
    database_url: str,
    amqp_url: str,
    blob_dir: Path,
) -> None:
    """Bytes that are no message yield mail.rejected with a reason and a "rejected" log row."""
    received = await receive(bytes(range(256)) * 8 + uuid.uuid4().bytes, blob_dir)
    await publish(amqp_url, received)
    rejected_id = derived_event_id(received.id, "mail.rejected")
    [event] = await wait_for(rejected_queue, str(rejected_id))
    assert event["payload"]["stage"] == "parser"
    assert "header" in event["payload"]["reason"]
    assert event["payload"]["raw_blob_ref"] == received.payload.raw_blob_ref
    [row] = await log_rows(database_url, str(received.id))
    assert row["status"] == "rejected"
    assert row["detail"] == event["payload"]["reason"]


async def test_redelivery_republishes_the_same_event(
    parser: None,
    observer: aio_pika.abc.AbstractChannel,
    database_url: str,
    amqp_url: str,
    blob_dir: Path,
) -> None:
    """The same mail.received delivered twice gives mail.parsed twice under one id, and one log row."""
    received = await receive(MAIL % uuid.uuid4().hex.encode(), blob_dir)
    await publish(amqp_url, received, received)
    router_queue = await observer.get_queue(ROUTER_QUEUE)
    parsed_id = derived_event_id(received.id, "mail.parsed")
    events = await wait_for(router_queue, str(parsed_id), count=2)
    assert [e["id"] for e in events] == [str(parsed_id), str(parsed_id)]
    assert events[0]["payload"] == events[1]["payload"]
    assert len(await log_rows(database_url, str(received.id))) == 1


async def test_large_mail_is_parsed(
    parser: None, observer: aio_pika.abc.AbstractChannel, amqp_url: str, blob_dir: Path
) -> None:
    """A message above the in-thread threshold (2 MB attachment) is parsed and its attachment stored whole."""
    big = b"1234,2\r\n" * 250_000
    raw = (MAIL % uuid.uuid4().hex.encode()).replace(b"id,qty\r\n1234,2", b"id,qty\r\n" + big)
    received = await receive(raw, blob_dir)
    await publish(amqp_url, received)
    router_queue = await observer.get_queue(ROUTER_QUEUE)
    [event] = await wait_for(router_queue, str(derived_event_id(received.id, "mail.parsed")))
    [attachment] = event["payload"]["attachments"]
    # the CRLF before the closing boundary belongs to the boundary; big keeps its own last CRLF
    assert attachment["size"] == len(b"id,qty\r\n" + big)
    stored = await make_blob_store(ParserSettings(blob_dir=blob_dir)).get(attachment["blob_ref"])
    assert len(stored) == attachment["size"]
