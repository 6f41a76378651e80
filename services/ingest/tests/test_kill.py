"""Killing ingest between storing and publishing loses nothing and duplicates nothing.

The real `postdesk-ingest` process, on a database and virtual host of its
own, dies at the failpoint "ingest.after_store" (the processing-log row is
committed, mail.received is not yet published). The MTA (smtplib here) must
not have heard 250; its retry to a restarted ingest publishes exactly once.
"""

from __future__ import annotations

import asyncio
import io
import json
import smtplib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
import pytest_asyncio
import sqlalchemy as sa
from postdesk_cli.supervisor import Supervisor
from postdesk_contracts import EventType
from postdesk_contracts.topology import queue_for
from postdesk_runtime import make_engine
from postdesk_testing import IsolatedAmqp, IsolatedDatabase, drain

from .seeds import SeededTenant, seed_directory
from .test_webhook import mail

pytestmark = pytest.mark.integration

PARSER_QUEUE = queue_for("parser", EventType.MAIL_RECEIVED).name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Infra:
    def __init__(self, database_url: str, amqp_url: str, blob_dir: Path) -> None:
        self.database_url, self.amqp_url, self.blob_dir = database_url, amqp_url, blob_dir


@pytest_asyncio.fixture(loop_scope="session")
async def infra(tmp_path: Path) -> AsyncIterator[Infra]:
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    try:
        yield Infra(database_url, amqp_url, tmp_path / "blobs")
    finally:
        vhost.drop()
        await database.drop()


def supervisor(infra: Infra, smtp_port: int, log: io.StringIO, **extra: str) -> Supervisor:
    env = {
        "DATABASE_URL": infra.database_url,
        "AMQP_URL": infra.amqp_url,
        "BLOB_DIR": str(infra.blob_dir),
        "INGEST_SMTP_ENABLED": "true",
        "INGEST_SMTP_PORT": str(smtp_port),
        "LOG_FORMAT": "console",
        "POSTDESK_FAILPOINTS": "",
    }
    return Supervisor(env=env | extra, ports={"ingest": free_port()}, sink=log)


def send(port: int, recipient: str, body: bytes) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("alice@customer.example")
        client.rcpt(recipient)
        code, text = client.data(body)
        return code, text.decode()


def send_expecting_drop(port: int, recipient: str, body: bytes) -> str:
    """Send; return how the session ended (it must not end with a 250)."""
    try:
        code, text = send(port, recipient, body)
    except smtplib.SMTPServerDisconnected as error:
        return f"disconnected: {error}"
    return f"{code} {text}"


async def parser_messages(amqp_url: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        return await drain(await channel.get_queue(PARSER_QUEUE, ensure=True))


async def ingest_rows(database_url: str) -> list[tuple[str, str]]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                sa.text(
                    "SELECT status, event_id::text FROM email_processing_logs WHERE stage = 'ingest'"
                )
            )
            return [(row.status, row.event_id) for row in result]
    finally:
        await engine.dispose()


async def test_kill_between_store_and_publish_loses_and_duplicates_nothing(
    infra: Infra,
) -> None:
    """Killed after the stored row: no 250, process gone; the retry gets 250 and one event."""
    tenant: SeededTenant = await seed_directory(infra.database_url)
    smtp_port = free_port()
    body = mail()
    log = io.StringIO()

    doomed = supervisor(infra, smtp_port, log, POSTDESK_FAILPOINTS="ingest.after_store=exit")
    service = doomed.start("ingest")
    try:
        await asyncio.to_thread(doomed.wait_ready, 60)
        ended = await asyncio.to_thread(send_expecting_drop, smtp_port, tenant.at("cs"), body)
        returncode = await asyncio.to_thread(service.process.wait, 30)
    finally:
        doomed.stop_all()
    assert ended.startswith("disconnected"), ended + "\n" + log.getvalue()
    assert returncode == 137
    [(status, event_id)] = await ingest_rows(infra.database_url)
    assert status == "stored"
    assert await parser_messages(infra.amqp_url) == []

    revived = supervisor(infra, smtp_port, log)
    revived.start("ingest")
    try:
        await asyncio.to_thread(revived.wait_ready, 60)
        code, text = await asyncio.to_thread(send, smtp_port, tenant.at("cs"), body)
    finally:
        revived.stop_all()
    assert code == 250, text + "\n" + log.getvalue()
    assert text.split()[-1] == event_id
    messages = await parser_messages(infra.amqp_url)
    assert [m.message_id for m in messages] == [event_id]
    assert json.loads(messages[0].body)["tenant_id"] == str(tenant.tenant_id)
    assert await ingest_rows(infra.database_url) == [("published", event_id)]
