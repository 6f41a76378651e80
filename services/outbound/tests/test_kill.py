"""Killing the real `postdesk-outbound` process in the middle of a send (ADR 0009).

On a database and virtual host of its own, against a capturing SMTP server:
- killed at "outbound.before_data" (transmitting_at committed, DATA not yet
  sent): the server has nothing; the restarted service recovers the message
  and exactly one copy arrives;
- killed at "outbound.after_data" (the server answered 250, our record of it
  is not committed): the restarted service cannot know the server has it and
  sends it again, with the same Message-ID: two copies, one mail.sent, and
  the attempt log saying it may be a duplicate. This is the documented
  trade: a rare duplicate rather than a lost reply.
"""

from __future__ import annotations

import asyncio
import email
import io
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from postdesk_cli.supervisor import Supervisor
from postdesk_contracts import Envelope, OutboundRequested
from postdesk_outbound.domain import CRASH_DURING_TRANSACTION, OutboundStatus
from postdesk_runtime import (
    EventPublisher,
    Sessions,
    declare_topology,
    make_broker,
    make_engine,
    make_sessions,
)
from postdesk_schema import OutboundMessage
from postdesk_testing import IsolatedAmqp, IsolatedDatabase, eventually
from postdesk_testing.smtp import smtp_server

from .factories import make_event, make_request
from .sending import events, seed_sender, stored

pytestmark = pytest.mark.integration

LEASE_SECONDS = 4


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

    def supervisor(self, log: io.StringIO) -> Supervisor:
        env = {
            "DATABASE_URL": self.database_url,
            "AMQP_URL": self.amqp_url,
            "BLOB_DIR": str(self.blob_dir),
            "LOG_FORMAT": "console",
            "SEND_POLL_INTERVAL_SECONDS": "0.1",
            "SENDING_LEASE_SECONDS": str(LEASE_SECONDS),
            "RECOVERY_INTERVAL_SECONDS": "0.2",
            "POSTDESK_FAILPOINTS": "",
        }
        return Supervisor(env=env, ports={"outbound": free_port()}, sink=log)


@pytest_asyncio.fixture(loop_scope="session")
async def infra(tmp_path: Path) -> AsyncIterator[Infra]:
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    engine = make_engine(database_url, pool_size=2)
    try:
        yield Infra(database_url, amqp_url, tmp_path / "blobs", make_sessions(engine))
    finally:
        await engine.dispose()
        vhost.drop()
        await database.drop()


async def publish(amqp_url: str, event: Envelope[OutboundRequested]) -> None:
    broker = make_broker(amqp_url)
    try:
        await broker.connect()
        await declare_topology(broker)
        await EventPublisher(broker).publish(event)
    finally:
        await broker.stop()


@pytest.mark.parametrize("failpoint", ["outbound.before_data", "outbound.after_data"])
async def test_a_sender_killed_mid_send(infra: Infra, failpoint: str) -> None:
    killed_after_data = failpoint == "outbound.after_data"
    log = io.StringIO()
    async with smtp_server() as server:
        seed = await seed_sender(infra.sessions, smtp_port=server.port)
        event = make_event(seed, make_request(seed))
        outbound_id = event.payload.outbound_id

        doomed = infra.supervisor(log)
        service = doomed.start("outbound", POSTDESK_FAILPOINTS=f"{failpoint}=exit")
        try:
            await asyncio.to_thread(doomed.wait_ready, 60)
            await publish(infra.amqp_url, event)
            returncode = await asyncio.to_thread(service.process.wait, 60)
        finally:
            doomed.stop_all()
        assert returncode == 137, log.getvalue()[-3000:]
        interrupted = await stored(infra.sessions, outbound_id)
        assert interrupted.status == OutboundStatus.SENDING
        assert interrupted.transmitting_at is not None
        assert len(server.received) == (1 if killed_after_data else 0)
        assert await events(infra.sessions, "mail.sent", outbound_id) == []

        revived = infra.supervisor(log)
        revived.start("outbound")
        try:
            await asyncio.to_thread(revived.wait_ready, 60)

            async def sent() -> OutboundMessage | None:
                row = await stored(infra.sessions, outbound_id)
                return row if row.status == OutboundStatus.SENT else None

            row = await eventually(sent, within=60)
        finally:
            revived.stop_all()

    copies = [email.message_from_bytes(r.data) for r in server.received]
    assert len(copies) == (2 if killed_after_data else 1), log.getvalue()[-3000:]
    assert {c["Message-ID"] for c in copies} == {f"<{row.message_id_header}>"}
    assert row.attempts == 2
    recovered = [e for e in row.attempt_log if e["stage"] == "recovered"]
    assert [e["detail"] for e in recovered] == [CRASH_DURING_TRANSACTION]
    assert len(await events(infra.sessions, "mail.sent", outbound_id)) == 1
