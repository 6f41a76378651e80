"""One mail's trace crosses ingest, parser and router, and reaches an OTLP collector.

The services run as processes (as deployed), configured only by the standard
OTEL_EXPORTER_OTLP_ENDPOINT, against a collector of the test's own on loopback. Their
batch processors wait far longer than the test runs (OTEL_BSP_SCHEDULE_DELAY), so the
spans arrive only because each service flushes its tracer provider when SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from postdesk_cli.supervisor import Supervisor
from postdesk_ingest.domain import signature_headers
from postdesk_runtime.db import make_engine, make_sessions
from postdesk_schema import AccountKind, EmailAccount, Tenant
from postdesk_schema.logs import EmailProcessingLog
from postdesk_testing import eventually
from postdesk_testing.otlp import OtlpReceiver, ReceivedSpan
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

pytestmark = pytest.mark.e2e

SERVICES = ("ingest", "parser", "router")
MAILBOX = "support@traced.example"
SECRET = "trace-export-webhook-secret"  # loopback-only test stack


def free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out on loopback, free again for the services to bind."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest_asyncio.fixture(loop_scope="session")
async def engine(private_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(private_database_url, pool_size=1)
    async with make_sessions(engine)() as session, session.begin():
        tenant = Tenant(name="Traced", slug=f"traced-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        session.add(EmailAccount(tenant_id=tenant.id, address=MAILBOX, kind=AccountKind.SHARED))
    yield engine
    await engine.dispose()


@pytest.fixture
def collector() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture
def service_log() -> io.StringIO:
    return io.StringIO()


@pytest_asyncio.fixture(loop_scope="session")
async def stack(
    engine: AsyncEngine,
    private_database_url: str,
    private_amqp_url: str,
    tmp_path: Path,
    collector: OtlpReceiver,
    service_log: io.StringIO,
) -> AsyncIterator[Supervisor]:
    supervisor = Supervisor(
        env={
            "DATABASE_URL": private_database_url,
            "AMQP_URL": private_amqp_url,
            "BLOB_DIR": str(tmp_path / "blobs"),
            "INGEST_WEBHOOK_SECRET": SECRET,
            "INGEST_RATE_PER_SOURCE": "off",
            "INGEST_RATE_PER_TENANT": "off",
            "LOG_FORMAT": "console",
            "LOG_LEVEL": "INFO",
            "DB_POOL_SIZE": "2",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "600000",  # ms: only the shutdown flush exports
        },
        ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
        sink=service_log,
    )
    try:
        for name in SERVICES:
            supervisor.start(name)
        await asyncio.to_thread(supervisor.wait_ready, 120)
        yield supervisor
    finally:
        await asyncio.to_thread(supervisor.stop_all)


def customer_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Customer <customer@customer.example>"
    message["To"] = MAILBOX
    message["Subject"] = "Where is my parcel?"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@customer.example>"
    message.set_content("It should have arrived on Monday.")
    return bytes(message)


async def test_a_mails_trace_crosses_ingest_parser_and_router_to_the_collector(
    stack: Supervisor, engine: AsyncEngine, collector: OtlpReceiver, service_log: io.StringIO
) -> None:
    raw = customer_mail()
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{stack.processes['ingest'].base_url}/webhooks/raw",
            content=raw,
            params={"rcpt": MAILBOX},
            headers={"Content-Type": "message/rfc822", **signature_headers(SECRET, raw)},
        )
    assert response.status_code == 202, response.text

    sessions = make_sessions(engine)

    async def routed() -> int | None:
        async with sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(EmailProcessingLog)
                .where(col(EmailProcessingLog.stage) == "router")
            )
        return count or None

    try:
        await eventually(routed, within=60, interval=0.2)
        assert collector.spans() == [], "exported before shutdown: the flush would go untested"
        await asyncio.to_thread(stack.stop_all)

        spans = collector.spans()
        [accept] = [s for s in spans if s.name == "ingest.accept_raw_mail"]
        in_trace = [s for s in spans if s.trace_id == accept.trace_id]
        by_service: dict[str, list[ReceivedSpan]] = {}
        for span in in_trace:
            by_service.setdefault(span.service, []).append(span)
        assert set(by_service) == {f"postdesk-{service}" for service in SERVICES}, by_service
        # Parents resolve within the trace: one trace, not three traces sharing an id by luck.
        ids = {span.span_id for span in in_trace}
        roots = [span for span in in_trace if span.parent_span_id not in ids]
        assert len(roots) == 1, roots
    except AssertionError:
        print(service_log.getvalue()[-20000:])
        raise
