"""The parser app against hostile and poison input, on the machine's RabbitMQ and PostgreSQL.

- Over a limit with nothing safe left to read: mail.rejected naming the limit, log row "rejected".
- Over a limit but still readable: mail.parsed with `limits_hit`, log row naming the limit.
- A message whose handler keeps failing (its raw blob is gone: transient by design) is
  redelivered until the quorum queue's delivery limit dead-letters it to `<queue>.dlq`,
  while the parser goes on with the messages after it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
import structlog
from postdesk_contracts import EventType, MailReceived, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.events import Channel
from postdesk_contracts.topology import DEFAULT_DELIVERY_LIMIT, queue_for
from postdesk_parser.limits import LIMIT_HEADERS, LIMIT_PARTS
from postdesk_parser.main import create_app
from postdesk_parser.settings import ParserSettings
from postdesk_testing import eventually, tap

from .test_pipeline import MAIL, log_rows, publish, receive, wait_for

pytestmark = pytest.mark.integration

PARSER_QUEUE = queue_for("parser", EventType.MAIL_RECEIVED)
MAX_HEADERS = 20
MAX_PARTS = 4

log = structlog.get_logger(__name__)


@contextlib.asynccontextmanager
async def running_parser(settings: ParserSettings) -> AsyncIterator[None]:
    """The parser's own app with `settings`, started in this loop (see test_pipeline.parser)."""
    app = create_app(settings)
    await app.start()
    try:
        yield
    finally:
        await app.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def strict_parser(
    database_url: str, amqp_url: str, blob_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """The parser with small limits, set through the environment as a deployment sets them."""
    monkeypatch.setenv("PARSE_MAX_HEADERS", str(MAX_HEADERS))
    monkeypatch.setenv("PARSE_MAX_PARTS", str(MAX_PARTS))
    settings = ParserSettings(database_url=database_url, amqp_url=amqp_url, blob_dir=blob_dir)
    assert (settings.parse_max_headers, settings.parse_max_parts) == (MAX_HEADERS, MAX_PARTS)
    async with running_parser(settings):
        yield


@pytest_asyncio.fixture(loop_scope="session")
async def outcomes(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A private queue bound to mail.parsed and mail.rejected, as any outside consumer would."""
    async with tap(amqp_url, EventType.MAIL_PARSED.value, EventType.MAIL_REJECTED.value) as queue:
        yield queue


def header_bomb() -> bytes:
    """Thousands of header fields before the only From: no usable sender within the header limit."""
    junk = b"".join(b"X-Junk-%d: %s\r\n" % (i, b"v" * 20) for i in range(5_000))
    return junk + b"From: late@sender.example\r\nSubject: bomb %s\r\n\r\nbody\r\n" % (
        uuid.uuid4().hex.encode()
    )


def many_parts(count: int) -> bytes:
    """A readable message with `count` attachments: more parts than the limit allows."""
    parts = b"".join(
        b'--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="a%d.txt"\r\n'
        b"\r\nattachment %d\r\n" % (i, i)
        for i in range(count)
    )
    return (
        (
            b"From: Alice <alice@customer.example>\r\n"
            b"To: support@acme.example\r\n"
            b"Subject: many parts\r\n"
            b"Message-ID: <%s@customer.example>\r\n"
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nPlease see the files.\r\n"
            % uuid.uuid4().hex.encode()
        )
        + parts
        + b"--b--\r\n"
    )


async def test_header_bomb_is_rejected_naming_the_limit(
    strict_parser: None,
    outcomes: aio_pika.abc.AbstractQueue,
    database_url: str,
    amqp_url: str,
    blob_dir: Path,
) -> None:
    """A header block over the header-count limit with no From inside it gives mail.rejected naming max_headers."""
    received = await receive(header_bomb(), blob_dir)
    await publish(amqp_url, received)
    rejected_id = derived_event_id(received.id, EventType.MAIL_REJECTED.value)
    [event] = await wait_for(outcomes, str(rejected_id))
    assert event["type"] == EventType.MAIL_REJECTED.value
    reason = event["payload"]["reason"]
    assert event["payload"]["stage"] == "parser"
    assert "From" in reason
    assert LIMIT_HEADERS in reason
    [row] = await log_rows(database_url, str(received.id))
    assert (row["status"], row["event_id"], row["detail"]) == ("rejected", rejected_id, reason)


async def test_readable_mail_over_a_limit_is_parsed_with_limits_hit(
    strict_parser: None,
    outcomes: aio_pika.abc.AbstractQueue,
    database_url: str,
    amqp_url: str,
    blob_dir: Path,
) -> None:
    """A message with more parts than allowed gives mail.parsed with limits_hit and a log row naming the limit."""
    received = await receive(many_parts(10), blob_dir)
    await publish(amqp_url, received)
    parsed_id = derived_event_id(received.id, EventType.MAIL_PARSED.value)
    [event] = await wait_for(outcomes, str(parsed_id))
    payload = event["payload"]
    assert payload["limits_hit"] == [LIMIT_PARTS]
    assert payload["from"]["email"] == "alice@customer.example"
    assert payload["subject"] == "many parts"
    assert 0 < len(payload["attachments"]) < 10  # read as far as the limit allowed
    [row] = await log_rows(database_url, str(received.id))
    assert (row["status"], row["event_id"]) == ("parsed", parsed_id)
    assert LIMIT_PARTS in row["detail"]


@pytest_asyncio.fixture(loop_scope="session")
async def isolated_parser(
    database_url: str, private_amqp_url: str, blob_dir: Path
) -> AsyncIterator[None]:
    """The parser on a virtual host of this test's own: no other test's messages in its queues."""
    settings = ParserSettings(
        database_url=database_url, amqp_url=private_amqp_url, blob_dir=blob_dir
    )
    async with running_parser(settings):
        yield


async def test_poison_message_is_dead_lettered_and_the_parser_goes_on(
    isolated_parser: None, database_url: str, private_amqp_url: str, blob_dir: Path
) -> None:
    """A mail.received whose raw blob is missing is retried, then dead-lettered; later mail is still parsed."""
    missing = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    poison = new_envelope(
        EventType.MAIL_RECEIVED,
        MailReceived(
            raw_blob_ref=f"sha256:{missing}",
            sha256=missing,
            size=100,
            channel=Channel.WEBHOOK,
            envelope_recipients=["support@acme.example"],
            received_at=datetime.now(UTC),
        ),
    )
    good = await receive(MAIL % uuid.uuid4().hex.encode(), blob_dir)
    async with tap(private_amqp_url, EventType.MAIL_PARSED.value) as parsed_queue:
        started = time.monotonic()
        await publish(private_amqp_url, poison, good)
        [parsed] = await wait_for(
            parsed_queue, str(derived_event_id(good.id, EventType.MAIL_PARSED.value))
        )
        assert parsed["causation_id"] == str(good.id)

        connection = await aio_pika.connect(private_amqp_url)
        async with connection:
            channel = await connection.channel()
            dlq = await channel.get_queue(PARSER_QUEUE.dead_letter_name)

            async def dead_lettered() -> aio_pika.abc.AbstractIncomingMessage | None:
                return await dlq.get(fail=False, no_ack=True)

            message = await eventually(dead_lettered, within=30)
            elapsed = time.monotonic() - started
            log.info("poison message dead-lettered", seconds=round(elapsed, 2))
            print(
                f"poison message dead-lettered after {elapsed:.2f} s"
            )  # the measurement, shown with -s

            body: dict[str, Any] = json.loads(message.body)
            assert message.message_id == str(poison.id)
            assert body["payload"]["raw_blob_ref"] == f"sha256:{missing}"
            headers = message.headers or {}
            assert headers.get("x-first-death-queue") == PARSER_QUEUE.name
            assert headers.get("x-first-death-reason") == "delivery_limit"
            # redelivered up to the limit, not forever: nothing of it is left in the parser's queue
            parser_queue = await channel.get_queue(PARSER_QUEUE.name)
            assert await parser_queue.get(fail=False, no_ack=True) is None
            assert DEFAULT_DELIVERY_LIMIT == PARSER_QUEUE.delivery_limit == 5
            assert elapsed < 10
    # no outcome was recorded for it: a later replay from the dead-letter queue starts clean
    assert await log_rows(database_url, str(poison.id)) == []
