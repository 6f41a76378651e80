"""The ingest webhook against the machine's PostgreSQL and RabbitMQ."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from faststream.rabbit import RabbitBroker
from litestar import Litestar
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from postdesk_contracts import EventType
from postdesk_contracts.topology import queue_for
from postdesk_ingest import main as ingest_main
from postdesk_ingest.domain import DedupeKey, sign
from postdesk_ingest.main import create_app
from postdesk_ingest.settings import IngestSettings
from postdesk_runtime import (
    LocalBlobStore,
    declare_topology,
    make_blob_store,
    make_broker,
    make_engine,
    wiring,
)
from postdesk_testing import drain, sample_value
from structlog.testing import capture_logs

from .seeds import seed_directory

pytestmark = pytest.mark.integration

SECRET = "test-webhook-secret"
PARSER_QUEUE = queue_for("parser", EventType.MAIL_RECEIVED).name


def mail(subject: str | None = None) -> bytes:
    """A small message, unique per call unless `subject` is given."""
    subject = subject or f"test {uuid.uuid4()}"
    return (
        "From: Alice <alice@customer.example>\r\n"
        "To: support@acme.example\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4()}@customer.example>\r\n"
        "\r\nHello, my order is late.\r\n"
    ).encode()


def signed_headers(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(at if at is not None else time.time()))
    return {
        "X-Postdesk-Timestamp": timestamp,
        "X-Postdesk-Signature": sign(secret.encode(), timestamp, body),
        "Content-Type": "message/rfc822",
    }


def settings(database_url: str, amqp_url: str, blob_dir: Path, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "blob_dir": blob_dir,
        "webhook_secret": SECRET,
    }
    return IngestSettings(**(values | overrides))


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (lifespan) in this event loop, with a client talking to it in-process."""
    async with (
        app.lifespan(),
        httpx.AsyncClient(
            # Litestar types its ASGI callable more narrowly than httpx's generic signature
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://ingest",
        ) as client,
    ):
        yield client


async def take_all(amqp_url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message waiting in `queue`, removed from it."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        return await drain(await channel.get_queue(queue, ensure=True))


async def log_rows(database_url: str, sha256: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                sa.text(
                    "SELECT stage, status, dedupe_key, event_id, raw_blob_ref FROM email_processing_logs "
                    "WHERE sha256 = :sha"
                ),
                {"sha": sha256},
            )
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def app(database_url: str, amqp_url: str, blob_dir: Path) -> AsyncIterator[Litestar]:
    broker = make_broker(amqp_url)  # the topology exists before the first test looks at it
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    await take_all(amqp_url, PARSER_QUEUE)  # start from an empty parser queue
    # the recipients posted below are known, in two tenants (so mail.received names none);
    # not acme.example, whose cs@ the CLI demo seeds in the same test database
    await seed_directory(database_url, domain="webhook-test.example", accounts=("support", "a"))
    await seed_directory(database_url, domain="webhook-test.example", accounts=("cs",))
    yield create_app(settings(database_url, amqp_url, blob_dir))


async def test_signed_mail_is_stored_published_and_logged(
    app: Litestar, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """A signed post answers 202 only after mail.received with the derived id is in the parser's queue."""
    body = mail()
    sha = hashlib.sha256(body).hexdigest()
    async with serving(app) as client:
        response = await client.post(
            "/webhooks/raw",
            content=body,
            params=[("rcpt", "Support@Webhook-Test.example"), ("rcpt", "cs@webhook-test.example")],
            headers=signed_headers(body),
        )
    assert response.status_code == 202, response.text
    answer = response.json()
    expected_id = DedupeKey.of(
        sha, ["support@webhook-test.example", "cs@webhook-test.example"]
    ).event_id
    assert answer == {
        "status": "accepted",
        "event_id": str(expected_id),
        "raw_blob_ref": f"sha256:{sha}",
    }
    assert (
        await make_blob_store(settings(database_url, amqp_url, blob_dir)).get(f"sha256:{sha}")
        == body
    )
    assert b"my order is late" not in LocalBlobStore(blob_dir).path_of(f"sha256:{sha}").read_bytes()

    messages = await take_all(amqp_url, PARSER_QUEUE)
    assert [m.message_id for m in messages] == [str(expected_id)]
    envelope = json.loads(messages[0].body)
    assert envelope["type"] == "mail.received"
    assert envelope["tenant_id"] is None
    assert envelope["payload"]["envelope_recipients"] == [
        "cs@webhook-test.example",
        "support@webhook-test.example",
    ]
    assert envelope["payload"]["sha256"] == sha
    assert envelope["payload"]["size"] == len(body)
    assert messages[0].delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    # no span exporter configured: no spans made, no trace context passed on (exports_spans)
    assert "traceparent" not in (messages[0].headers or {})

    rows = await log_rows(database_url, sha)
    assert [(r["stage"], r["status"], r["event_id"]) for r in rows] == [
        ("ingest", "published", expected_id)
    ]


async def test_same_mail_twice_publishes_once(
    app: Litestar, database_url: str, amqp_url: str
) -> None:
    """Posting the same bytes to the same recipients again answers "duplicate" and publishes nothing."""
    body = mail()
    async with serving(app) as client:
        first = await client.post(
            "/webhooks/raw?rcpt=a@webhook-test.example", content=body, headers=signed_headers(body)
        )
        second = await client.post(
            "/webhooks/raw?rcpt=A@webhook-test.example", content=body, headers=signed_headers(body)
        )
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["status"] == "accepted"
    assert second.json()["status"] == "duplicate"
    assert second.json()["event_id"] == first.json()["event_id"]
    messages = await take_all(amqp_url, PARSER_QUEUE)
    assert [m.message_id for m in messages] == [first.json()["event_id"]]
    assert len(await log_rows(database_url, hashlib.sha256(body).hexdigest())) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {
            "X-Postdesk-Timestamp": str(int(time.time())),
            "X-Postdesk-Signature": "sha256=" + "0" * 64,
        },
        "wrong-secret",
        "stale",
    ],
    ids=["missing", "garbage", "wrong-secret", "stale"],
)
async def test_bad_signature_is_refused_and_nothing_stored(
    app: Litestar, database_url: str, amqp_url: str, blob_dir: Path, headers: Any
) -> None:
    """Unsigned, wrongly signed or stale posts get 401 and store, log and publish nothing."""
    body = mail()
    if headers == "wrong-secret":
        headers = signed_headers(body, secret="not-the-secret")
    elif headers == "stale":
        headers = signed_headers(body, at=time.time() - 301)
    sha = hashlib.sha256(body).hexdigest()
    with capture_logs() as logs:
        async with serving(app) as client:
            response = await client.post("/webhooks/raw", content=body, headers=headers)
    assert response.status_code == 401
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "webhook signature rejected"
    ]
    assert SECRET not in repr(logs)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert not LocalBlobStore(blob_dir).path_of(f"sha256:{sha}").exists()
    assert await log_rows(database_url, sha) == []
    assert await take_all(amqp_url, PARSER_QUEUE) == []


async def test_oversized_mail_is_refused(database_url: str, amqp_url: str, blob_dir: Path) -> None:
    """A body above INGEST_MAX_MESSAGE_BYTES gets 413 and is not stored."""
    app = create_app(settings(database_url, amqp_url, blob_dir, max_message_bytes=100))
    body = mail() + b"x" * 200
    async with serving(app) as client:
        response = await client.post("/webhooks/raw", content=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert (
        not LocalBlobStore(blob_dir).path_of("sha256:" + hashlib.sha256(body).hexdigest()).exists()
    )


async def test_broker_down_answers_503_and_retry_publishes(
    app: Litestar, database_url: str, amqp_url: str
) -> None:
    """Without a confirm the answer is 503 (row stays "stored"); a retry once the broker is back publishes."""
    body = mail()
    sha = hashlib.sha256(body).hexdigest()
    async with serving(app) as client:
        broker: RabbitBroker = app.state.broker
        await broker.stop()
        response = await client.post("/webhooks/raw", content=body, headers=signed_headers(body))
    assert response.status_code == 503
    problem = response.json()
    assert problem["status"] == 503
    assert "broker" in problem["detail"]
    assert response.headers["retry-after"]
    assert [r["status"] for r in await log_rows(database_url, sha)] == ["stored"]
    assert await take_all(amqp_url, PARSER_QUEUE) == []

    async with serving(app) as client:  # the next startup connects again
        retry = await client.post("/webhooks/raw", content=body, headers=signed_headers(body))
    assert retry.status_code == 202
    assert retry.json()["status"] == "accepted"
    assert [m.message_id for m in await take_all(amqp_url, PARSER_QUEUE)] == [
        retry.json()["event_id"]
    ]
    assert [r["status"] for r in await log_rows(database_url, sha)] == ["published"]


async def test_blob_store_failure_answers_503(
    database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    """If the raw bytes cannot be stored, the answer is 503 and nothing is published."""
    not_a_directory = tmp_path / "blobs"
    not_a_directory.write_text("a file where the blob directory should be")
    app = create_app(settings(database_url, amqp_url, not_a_directory))
    body = mail()
    async with serving(app) as client:
        response = await client.post("/webhooks/raw", content=body, headers=signed_headers(body))
    assert response.status_code == 503
    assert "blob store" in response.json()["detail"]
    assert await take_all(amqp_url, PARSER_QUEUE) == []


async def test_health_and_readiness(app: Litestar) -> None:
    """/healthz answers while alive; /readyz checks the database and the broker."""
    async with serving(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"broker": "ok", "database": "ok"}}
        await app.state.broker.stop()
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["broker"] == "failing"


async def test_trace_context_travels_with_mail_received(
    database_url: str, amqp_url: str, blob_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The published message's traceparent belongs to the trace of ingest's accept span."""
    exporter = InMemorySpanExporter()

    def tracing(service: str, settings: object) -> TracerProvider:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return provider

    monkeypatch.setattr(ingest_main, "configure_tracing", tracing)
    monkeypatch.setattr(wiring, "exports_spans", lambda settings: True)
    app = ingest_main.create_app(settings(database_url, amqp_url, blob_dir))
    body = mail()
    async with serving(app) as client:
        response = await client.post("/webhooks/raw", content=body, headers=signed_headers(body))
    assert response.status_code == 202
    [message] = await take_all(amqp_url, PARSER_QUEUE)
    traceparent = str((message.headers or {})["traceparent"])
    [accept] = [s for s in exporter.get_finished_spans() if s.name == "ingest.accept_raw_mail"]
    assert accept.context is not None
    assert traceparent.split("-")[1] == f"{accept.context.trace_id:032x}"


async def test_metrics_count_the_published_mail_received(app: Litestar, amqp_url: str) -> None:
    """/metrics (no signature needed) shows exactly one more mail.received after one accepted post."""
    published = "postdesk_messages_published_total"
    body = mail()
    async with serving(app) as client:
        before = await client.get("/metrics")
        response = await client.post(
            "/webhooks/raw",
            content=body,
            params=[("rcpt", "support@webhook-test.example")],
            headers=signed_headers(body),
        )
        after = await client.get("/metrics")
    await take_all(amqp_url, PARSER_QUEUE)  # leave the parser queue empty for the next test
    assert response.status_code == 202, response.text
    assert before.status_code == after.status_code == 200
    grew = sample_value(after.text, published, event_type="mail.received") - sample_value(
        before.text, published, event_type="mail.received"
    )
    assert grew == 1
    assert "webhook-test.example" not in after.text
    answered = {"method": "POST", "route": "/webhooks/raw", "status": "202"}
    requests = "postdesk_http_requests_total"
    assert (
        sample_value(after.text, requests, **answered)
        - sample_value(before.text, requests, **answered)
        == 1
    )
