"""Router processes as they run in production, on a database and virtual host of their own:
two replicas consuming one queue assign each ticket once and fairly, and a router killed
mid-message loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import io
import shutil
import socket
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from postdesk_cli.supervisor import Supervisor
from postdesk_contracts import Address, Envelope, EventType, MailParsed
from postdesk_contracts.topology import queue_for
from postdesk_router.settings import RouterSettings
from postdesk_runtime import (
    EventPublisher,
    Sessions,
    declare_topology,
    make_blob_store,
    make_broker,
    make_engine,
    make_sessions,
)
from postdesk_schema import AssignmentRole, OutboxEvent, Ticket
from postdesk_testing import IsolatedAmqp, IsolatedDatabase, eventually
from sqlalchemy import func, select
from sqlmodel import col

from .factories import Seed, make_event, make_parsed, seed_tenant, set_routing_strategy, store_body

pytestmark = pytest.mark.integration

MEMBERS = [
    ("ann", AssignmentRole.PRIMARY, 0, True, True),
    ("ben", AssignmentRole.BACKUP, 1, True, True),
    ("cyd", AssignmentRole.BACKUP, 2, True, True),
]
MAILS = 45
PARSED_QUEUE = queue_for("router", EventType.MAIL_PARSED).name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Infra:
    database_url: str
    amqp_url: str
    blob_dir: Path
    sessions: Sessions
    vhost: str

    def supervisor(self, log: io.StringIO, *names: str) -> Supervisor:
        env = {
            "DATABASE_URL": self.database_url,
            "AMQP_URL": self.amqp_url,
            "BLOB_DIR": str(self.blob_dir),
            "LOG_FORMAT": "console",
            "LOG_LEVEL": "DEBUG",
            "PREFETCH_COUNT": "2",
            "POSTDESK_FAILPOINTS": "",
        }
        return Supervisor(env=env, ports={n: free_port() for n in names}, sink=log)


@pytest_asyncio.fixture(loop_scope="session")
async def infra(tmp_path: Path) -> AsyncIterator[Infra]:
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    engine = make_engine(database_url, pool_size=4)
    try:
        yield Infra(database_url, amqp_url, tmp_path / "blobs", make_sessions(engine), vhost.name)
    finally:
        await engine.dispose()
        vhost.drop()
        await database.drop()


async def mails_to(infra: Infra, seed: Seed, count: int) -> list[Envelope[MailParsed]]:
    blobs = make_blob_store(RouterSettings(blob_dir=infra.blob_dir))
    body = await store_body(blobs)
    return [
        make_event(
            make_parsed(
                to=[Address(email=seed.address)],
                from_=Address(email=f"customer{i}@customer.example"),
                body_blob_ref=body,
            )
        )
        for i in range(count)
    ]


async def publish(infra: Infra, events: list[Envelope[MailParsed]]) -> None:
    broker = make_broker(infra.amqp_url)
    try:
        await broker.connect()
        await declare_topology(broker)
        publisher = EventPublisher(broker)
        for event in events:
            await publisher.publish(event)
    finally:
        await broker.stop()


async def tickets(infra: Infra, seed: Seed) -> list[Ticket]:
    async with infra.sessions() as session:
        rows = await session.scalars(select(Ticket).where(col(Ticket.tenant_id) == seed.tenant.id))
        return list(rows.all())


async def outbox_count(
    infra: Infra, routing_key: str, caused_by: Envelope[MailParsed] | None = None
) -> int:
    query = (
        select(func.count())
        .select_from(OutboxEvent)
        .where(col(OutboxEvent.routing_key) == routing_key)
    )
    if caused_by is not None:
        query = query.where(col(OutboxEvent.body).contains(str(caused_by.id)))
    async with infra.sessions() as session:
        return int((await session.execute(query)).scalar_one())


async def test_two_replicas_assign_each_ticket_once_and_fairly(infra: Infra) -> None:
    seed = await seed_tenant(infra.sessions, MEMBERS)
    await set_routing_strategy(infra.sessions, seed, "round_robin")
    log = io.StringIO()
    routers = infra.supervisor(log, "router-a", "router-b")
    routers.start("router-a", service="router")
    routers.start("router-b", service="router")
    try:
        await asyncio.to_thread(routers.wait_ready, 60)
        await publish(infra, await mails_to(infra, seed, MAILS))

        async def all_routed() -> list[Ticket] | None:
            found = await tickets(infra, seed)
            return found if len(found) == MAILS else None

        routed = await eventually(all_routed, within=120)
    finally:
        routers.stop_all()
    per_user = Counter(t.assignee_id for t in routed)
    assert per_user == {u.id: MAILS // 3 for u in seed.users.values()}, log.getvalue()[-3000:]
    assert await outbox_count(infra, "ticket.assigned") == MAILS
    assert await outbox_count(infra, "ticket.created") == MAILS
    lines = log.getvalue().splitlines()
    for replica in ("router-a", "router-b"):
        assert any(f"[{replica}]" in line and "message routed" in line for line in lines), replica


@pytest.mark.parametrize("failpoint", ["router.before_commit", "router.after_commit"])
async def test_a_router_killed_mid_message_loses_and_duplicates_nothing(
    infra: Infra, failpoint: str
) -> None:
    """Killed before its commit (nothing written) or after it (written, not acked): the
    message comes back to the restarted router and ends as one ticket with one set of events."""
    seed = await seed_tenant(infra.sessions, MEMBERS)
    [event] = await mails_to(infra, seed, 1)
    log = io.StringIO()
    doomed = infra.supervisor(log, "router")
    service = doomed.start("router", POSTDESK_FAILPOINTS=f"{failpoint}=exit")
    try:
        await asyncio.to_thread(doomed.wait_ready, 60)
        await publish(infra, [event])
        returncode = await asyncio.to_thread(service.process.wait, 60)
    finally:
        doomed.stop_all()
    assert returncode == 137, log.getvalue()[-3000:]
    written = await tickets(infra, seed)
    assert len(written) == (0 if failpoint == "router.before_commit" else 1)

    revived = infra.supervisor(log, "router")
    revived.start("router")
    try:
        await asyncio.to_thread(revived.wait_ready, 60)

        async def one_ticket() -> list[Ticket] | None:
            found = await tickets(infra, seed)
            return found if found else None

        [ticket] = await eventually(one_ticket, within=60)
        await eventually(lambda: _acked(infra), within=60)  # the redelivery was handled
    finally:
        revived.stop_all()
    assert ticket.assignee_id == seed.users["ann"].id
    assert len(await tickets(infra, seed)) == 1
    assert await outbox_count(infra, "ticket.created", caused_by=event) == 1


def _held(vhost: str) -> int:
    """Messages in the router's mail.parsed queue, ready or delivered and not yet acked."""
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    listed = subprocess.run(
        [ctl, "-q", "list_queues", "-p", vhost, "name", "messages"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    counts = dict(line.split("\t") for line in listed.splitlines() if "\t" in line)
    return int(counts.get(PARSED_QUEUE, "0"))


async def _acked(infra: Infra) -> bool | None:
    return True if await asyncio.to_thread(_held, infra.vhost) == 0 else None
