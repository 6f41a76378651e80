"""All six services as processes on the real broker and database, with the demo tenant,
whose mail goes to the development mail sink (a real SMTP server keeping what it gets)."""

from __future__ import annotations

import asyncio
import io
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from postdesk_cli.demo import DemoInfo, seed_demo
from postdesk_cli.services import SERVICES
from postdesk_cli.supervisor import Supervisor
from postdesk_runtime.db import Sessions, make_engine, make_sessions
from postdesk_schema import SmtpServer, Tenant
from postdesk_testing import IsolatedAmqp, IsolatedDatabase
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

WEBHOOK_SECRET = "e2e-webhook-secret"


FIRST_PORT = 10000


def ephemeral_ports_start() -> int:
    """The first port the kernel hands out to outgoing connections (Linux: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_block(count: int) -> int:
    """A base port with `count` consecutive ports free on loopback, from a random start: two
    test runs at once (or a run whose stopped service freed its port) must not pick the same
    block and take each other's processes for their own. Below the kernel's ephemeral range:
    a port free when checked there can be taken by any outgoing connection before the
    service binds it (a mail sink once lost its port to a client's socket)."""
    low, high = FIRST_PORT, ephemeral_ports_start() - count
    start = low + random.randrange(0, (high - low) // 97) * 97
    for base in [*range(start, high, 97), *range(low, start, 97)]:
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sockets.append(socket.socket())
                sockets[-1].bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free port block")


@dataclass
class Stack:
    supervisor: Supervisor
    log: io.StringIO
    engine: AsyncEngine
    demo: DemoInfo
    sent_mail: Path

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.supervisor.ports[service]}"


@pytest.fixture(scope="session")
def stack_log() -> io.StringIO:
    return io.StringIO()


@asynccontextmanager
async def running_stack(
    tmp_path_factory: pytest.TempPathFactory,
    stack_log: io.StringIO,
    name: str,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """All six services and the mail sink as processes for the demo tenant, on a database
    and virtual host of their own (their consumers must not take the messages of the other
    tests in the session, nor they theirs); `env` is added to every service's environment."""
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    blob_dir = tmp_path_factory.mktemp(f"{name}-blobs")
    engine = make_engine(database_url, pool_size=2)
    demo = await seed_demo(make_sessions(engine))
    base = free_port_block(len(SERVICES) + 2)
    smtp_port, sent_mail = base + len(SERVICES) + 1, tmp_path_factory.mktemp(f"{name}-sent-mail")
    await send_through_sink(make_sessions(engine), demo, smtp_port)
    supervisor = Supervisor(
        env={
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "BLOB_DIR": str(blob_dir),
            "INGEST_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LOG_FORMAT": "console",
            "LOG_LEVEL": "INFO",
            "MAILSINK_SMTP_PORT": str(smtp_port),
            "MAILSINK_DIR": str(sent_mail),
            **(env or {}),
        },
        ports={service: base + i for i, service in enumerate((*SERVICES, "mailsink"))},
        sink=stack_log,
    )
    for service in supervisor.ports:
        supervisor.start(service)
    try:
        await asyncio.to_thread(supervisor.wait_ready, 90)
        yield Stack(supervisor, stack_log, engine, demo, sent_mail)
    finally:
        await asyncio.to_thread(supervisor.stop_all)
        await engine.dispose()
        vhost.drop()
        await database.drop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, stack_log: io.StringIO
) -> AsyncIterator[Stack]:
    # the notifier's grouping window and jobs, shortened so a test sees their effect
    shortened = {
        "GROUPING_WINDOW_SECONDS": "2",
        "EMAIL_INTERVAL_SECONDS": "0.5",
        "WEBHOOK_INTERVAL_SECONDS": "0.5",
    }
    async with running_stack(tmp_path_factory, stack_log, "e2e", shortened) as running:
        yield running


async def send_through_sink(sessions: Sessions, demo: DemoInfo, smtp_port: int) -> None:
    """Point the demo tenant's SMTP server at this stack's sink; a one-second undo window."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(SmtpServer)
            .where(col(SmtpServer.tenant_id) == demo.tenant_id)
            .values(port=smtp_port)
        )
        await session.execute(
            update(Tenant)
            .where(col(Tenant.id) == demo.tenant_id)
            .values(settings={"outbound": {"undo_seconds": 1}})
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """On failure, attach the services' logs to the report."""
    report = yield
    log = item.funcargs.get("stack_log") if hasattr(item, "funcargs") else None
    if getattr(report, "failed", False) and isinstance(log, io.StringIO):
        report.sections.append(("service logs", log.getvalue()[-20000:]))
    return report


async def login(
    client: httpx.AsyncClient, gateway: str, email: str, password: str
) -> dict[str, str]:
    response = await client.post(
        f"{gateway}/auth/login", json={"email": email, "password": password}
    )
    assert response.status_code == 201 or response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
