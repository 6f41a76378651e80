"""Two replicas of every service on one broker and database: each mail lands once, the work is shared.

Every service runs twice as its own process ("parser-1", "parser-2", ...).
The mails go through both ingest replicas' webhooks; the parser and router
replicas compete on the same quorum queues. Each replica's debug lines
("mail parsed", "message routed") carry the supervisor's per-process prefix,
which is how the test tells which replica did what.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from postdesk_cli.services import SERVICES
from postdesk_cli.supervisor import Supervisor
from postdesk_ingest.domain import signature_headers
from postdesk_runtime.db import make_engine, make_sessions
from postdesk_schema import AccountKind, EmailAccount, Message, Tenant
from postdesk_schema.logs import EmailProcessingLog
from postdesk_testing import eventually
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from tests.e2e.conftest import free_port_block

pytestmark = pytest.mark.e2e

MAILS = 60
REPLICAS = 2
MAILBOX = "support@scale-out.example"
SECRET = "scale-out-webhook-secret"  # loopback-only test stack
# The lines each parser / router replica writes once per mail it handles (at DEBUG).
WORK_LINES = {"parser": "mail parsed", "router": "message routed"}
DEBUG = '"level": "debug"'
PREFIXED = re.compile(r"^\[(?P<name>[\w-]+)\s*\] (?P<line>.*)$")


def replica_names(service: str) -> list[str]:
    return [f"{service}-{n}" for n in range(1, REPLICAS + 1)]


def customer_mail(n: int, run: str) -> tuple[str, bytes]:
    message = EmailMessage()
    message_id = f"{run}-{n}@customer.example"
    message["From"] = f"Customer {n} <customer{n}@customer.example>"
    message["To"] = MAILBOX
    message["Subject"] = f"Order {run}-{n} has a question"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(f"Question number {n} about order {run}-{n}.")
    return message_id, bytes(message)


def handled_per_replica(log: str, service: str) -> Counter[str]:
    """How many `WORK_LINES[service]` lines each replica of `service` wrote."""
    counts: Counter[str] = Counter()
    for raw in log.splitlines():
        prefixed = PREFIXED.match(raw)
        if prefixed is None or not prefixed["name"].startswith(f"{service}-"):
            continue
        try:
            entry = json.loads(prefixed["line"])
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == WORK_LINES[service]:
            counts[prefixed["name"]] += 1
    return counts


@pytest_asyncio.fixture(loop_scope="session")
async def engine(private_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(private_database_url, pool_size=2)
    async with make_sessions(engine)() as session, session.begin():
        tenant = Tenant(name="Scale out", slug=f"scale-out-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        session.add(EmailAccount(tenant_id=tenant.id, address=MAILBOX, kind=AccountKind.SHARED))
    yield engine
    await engine.dispose()


@pytest.fixture
def service_log() -> io.StringIO:
    return io.StringIO()


@pytest_asyncio.fixture(loop_scope="session")
async def replicas(
    engine: AsyncEngine,
    private_database_url: str,
    private_amqp_url: str,
    tmp_path: Path,
    service_log: io.StringIO,
) -> AsyncIterator[Supervisor]:
    names = [(name, service) for service in SERVICES for name in replica_names(service)]
    base = free_port_block(len(names))
    supervisor = Supervisor(
        env={
            "DATABASE_URL": private_database_url,
            "AMQP_URL": private_amqp_url,
            "BLOB_DIR": str(tmp_path / "blobs"),
            "INGEST_WEBHOOK_SECRET": SECRET,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "INGEST_RATE_PER_SOURCE": "off",
            "INGEST_RATE_PER_TENANT": "off",
            # 12 processes share the test server's 100 connections with the test session.
            "DB_POOL_SIZE": "2",
        },
        ports={name: base + i for i, (name, _) in enumerate(names)},
        sink=service_log,
    )
    try:
        for name, service in names:
            # DEBUG only where the test reads the per-mail lines; the rest stay quiet.
            level = "DEBUG" if service in WORK_LINES else "INFO"
            supervisor.start(name, service=service, LOG_LEVEL=level)
        await asyncio.to_thread(supervisor.wait_ready, 120)
        yield supervisor
    finally:
        await asyncio.to_thread(supervisor.stop_all)


async def test_two_replicas_of_each_service_handle_every_mail_once_and_share_the_work(
    replicas: Supervisor, engine: AsyncEngine, service_log: io.StringIO
) -> None:
    run = uuid.uuid4().hex[:8]
    mails = [customer_mail(n, run) for n in range(MAILS)]
    ingests = [replicas.processes[name].base_url for name in replica_names("ingest")]
    async with httpx.AsyncClient(timeout=60) as client:
        limit = asyncio.Semaphore(8)

        async def post(n: int, raw: bytes) -> httpx.Response:
            async with limit:
                return await client.post(
                    f"{ingests[n % len(ingests)]}/webhooks/raw",
                    content=raw,
                    params={"rcpt": MAILBOX},
                    headers={"Content-Type": "message/rfc822", **signature_headers(SECRET, raw)},
                )

        responses = await asyncio.gather(*(post(n, raw) for n, (_, raw) in enumerate(mails)))
        for gateway in replica_names("gateway"):
            health = await client.get(f"{replicas.processes[gateway].base_url}/healthz")
            assert health.status_code == 200, gateway
    assert [r.status_code for r in responses] == [202] * MAILS, [r.text for r in responses]
    assert all(r.json()["status"] != "duplicate" for r in responses)

    sessions = make_sessions(engine)

    async def all_routed() -> int | None:
        async with sessions() as session:
            routed = await session.scalar(
                select(func.count())
                .select_from(EmailProcessingLog)
                .where(col(EmailProcessingLog.stage) == "router")
            )
        return routed if routed is not None and routed >= MAILS else None

    try:
        await eventually(all_routed, within=90, interval=0.5)
        # Let any late redelivery or duplicate surface before counting.
        await asyncio.sleep(2)

        async with sessions() as session:
            messages = (
                await session.execute(
                    select(col(Message.message_id_header), col(Message.ticket_id))
                )
            ).all()
            stage_counts = await session.execute(
                select(col(EmailProcessingLog.stage), func.count()).group_by(
                    col(EmailProcessingLog.stage)
                )
            )
            stages = {stage: count for stage, count in stage_counts}
        expected = sorted(message_id for message_id, _ in mails)
        assert sorted(header for header, _ in messages) == expected  # none lost, none twice
        assert len({ticket for _, ticket in messages}) == MAILS  # each opened its own ticket
        assert stages.get("parser") == MAILS, stages
        assert stages.get("router") == MAILS, stages

        log = service_log.getvalue()
        for service in WORK_LINES:
            per_replica = handled_per_replica(log, service)
            assert sum(per_replica.values()) == MAILS, (service, per_replica)  # once each
            assert set(per_replica) == set(replica_names(service)), (service, per_replica)
            print(service, dict(per_replica))  # the split, for `pytest -s`
    except AssertionError:
        quiet = [line for line in service_log.getvalue().splitlines() if DEBUG not in line]
        print("\n".join(quiet)[-20000:])
        raise
