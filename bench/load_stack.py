"""The postdesk side of bench/load.py: a stack of real processes, unique mail to offer it,
the webhook client that offers it, and the observer that sees each mail assigned.

- `Stack` runs every service and the development mail sink (the tenant's SMTP
  server) with `Supervisor`, on a fresh database and RabbitMQ virtual host,
  for the demo tenant with every user always at work, so each new ticket is
  assigned whatever the hour.
- `MailSource` makes any number of distinct mails out of the base corpus:
  round r of the corpus gets a header naming the round and every message id
  in Message-ID, In-Reply-To and References prefixed with the round, so
  ingest, parser and router see new mail while replies still thread to
  their parents of the same round.
- `Observer` records, per correlation id (the mail.received id the webhook
  returns), when the mail's outcome was committed: ticket.assigned when the
  mail opened a ticket, ticket.message_added when it joined one (a joining
  mail is not assigned again). Both leave the router's outbox from the same
  commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import aio_pika
from postdesk_cli.demo import address, seed_demo
from postdesk_cli.services import SERVICES
from postdesk_cli.supervisor import Supervisor
from postdesk_contracts import EventType
from postdesk_contracts.topology import EVENTS_EXCHANGE
from postdesk_ingest.domain import signature_headers
from postdesk_runtime.db import make_engine, make_sessions
from postdesk_schema import SmtpServer, User
from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase
from sqlalchemy import update
from sqlmodel import col

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-load-webhook-secret"  # noqa: S105  # loopback-only bench stack
MAILBOX = address("cs")
MAILSINK = "mailsink"
REQUEST_SECONDS = 60  # a webhook request that takes longer fails the run: the stack hangs
CONSUMERS = ("parser", "router", "notifier", "outbound")
_ID_HEADERS = (b"message-id", b"in-reply-to", b"references")
_MSG_ID = re.compile(rb"<([^<>\s]+)>")


def variant(raw: bytes, tag: str) -> bytes:
    """`raw` with a round header first and its message ids prefixed with `tag`."""
    newline = b"\r\n" if b"\r\n" in raw[:200] else b"\n"
    head, sep, body = raw.partition(newline + newline)
    prefix = tag.encode() + b"."
    lines: list[bytes] = []
    current = b""
    for line in head.split(newline):
        if line[:1] not in (b" ", b"\t"):
            current = line.split(b":", 1)[0].strip().lower()
        if current in _ID_HEADERS:
            line = _MSG_ID.sub(lambda m: b"<" + prefix + m.group(1) + b">", line)
        lines.append(line)
    return b"X-Bench-Round: " + tag.encode() + newline + newline.join(lines) + sep + body


@dataclass
class MailSource:
    """Distinct mails from a base corpus; each phase names its own prefix."""

    base: list[bytes]

    def mails(self, phase: str, count: int) -> Iterator[bytes]:
        for i in range(count):
            yield variant(self.base[i % len(self.base)], f"{phase}{i // len(self.base)}")


@dataclass
class Offered:
    """What the webhook answered: 202 times by correlation id, and the refusals."""

    accepted: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    retries: int = 0
    max_lag: float = 0.0  # how late the worst send started after its planned moment
    started: float = 0.0
    finished: float = 0.0


class WebhookConnection:
    """One keep-alive HTTP/1.1 connection that posts raw mail to ingest's webhook.

    Hand-written because the load generator must cost little next to what it measures
    (httpx spent about 3-4 ms of CPU per request here); it understands what uvicorn answers
    the webhook with: a status line, headers, a Content-Length body.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._target = f"{parts.path}?{urlencode({'rcpt': MAILBOX})}".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, raw: bytes) -> tuple[int, bytes]:
        """Status and body of one POST; reconnects once when the server closed the
        connection in between (a retried post of a mail ingest took is a duplicate)."""
        for attempt in (1, 2):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
            try:
                async with asyncio.timeout(REQUEST_SECONDS):
                    return await self._exchange(raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        assert self._reader is not None
        assert self._writer is not None
        headers = {
            "Host": f"{self._host}:{self._port}",
            "Content-Type": "message/rfc822",
            "Content-Length": str(len(raw)),
            **signature_headers(SECRET, raw),
        }
        head = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
        self._writer.write(b"POST " + self._target + b" HTTP/1.1\r\n" + head + b"\r\n" + raw)
        await self._writer.drain()
        response = await self._reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = response.partition(b"\r\n")
        length = 0
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


async def offer(
    url: str,
    mails: Iterator[bytes],
    *,
    rate: float = 0,
    concurrency: int = 32,
) -> Offered:
    """Post every mail to the raw webhook from `concurrency` workers, one connection each:
    as fast as answered (`rate` 0) or each at its planned moment start + i / rate. A 503
    or 429 is retried after a short pause, as a real webhook sender would."""
    result = Offered()
    numbered = enumerate(mails)
    result.started = start = time.monotonic()

    async def worker() -> None:
        connection = WebhookConnection(url)
        try:
            for i, raw in numbered:
                if rate > 0:
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        result.max_lag = max(result.max_lag, -delay)
                while True:
                    status, body = await connection.post(raw)
                    if status not in (429, 503):
                        break
                    result.retries += 1
                    await asyncio.sleep(0.2)
                if status != 202:
                    raise RuntimeError(f"webhook answered {status}: {body[:500]!r}")
                answer = json.loads(body)
                if answer["status"] == "duplicate":
                    result.duplicates += 1
                else:
                    result.accepted[answer["event_id"]] = time.monotonic()
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.finished = time.monotonic()
    return result


@dataclass
class Observer:
    """When each mail's routing was committed, by correlation id: the first of its
    ticket.message_added and ticket.assigned, which the router commits together (one
    outbox). `opened` holds the mails that opened a ticket, `assigned` those whose new ticket
    got an assignee. A ticket nobody holds the mailbox for gets no ticket.assigned: an
    observer that waited for one per new ticket never counted such a mail done (the suspected
    reason the 100,000-mail drain's observer kept waiting after the last mail was routed)."""

    amqp_url: str
    done: dict[str, float] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)
    opened: set[str] = field(default_factory=set)
    _connection: aio_pika.abc.AbstractConnection | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect(self.amqp_url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=512)
        queue = await channel.declare_queue(
            f"bench.load.{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True
        )
        for event in (EventType.TICKET_ASSIGNED, EventType.TICKET_MESSAGE_ADDED):
            await queue.bind(EVENTS_EXCHANGE, routing_key=event.value)
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.monotonic()
        event = json.loads(message.body)
        correlation = event["correlation_id"]
        if message.routing_key == EventType.TICKET_ASSIGNED.value:
            self.assigned.add(correlation)
        elif event["payload"].get("opened_ticket"):
            self.opened.add(correlation)
        self.done.setdefault(correlation, now)

    async def wait_for(self, keys: set[str], within: float) -> bool:
        """Whether every key was seen done within `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if keys <= self.done.keys():
                return True
            await asyncio.sleep(0.1)
        return keys <= self.done.keys()

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


@dataclass
class Stack:
    """All services and the mail sink as processes on a database and vhost of their own."""

    base_port: int
    db_pool_size: int
    database: IsolatedDatabase = field(default_factory=IsolatedDatabase)
    vhost: IsolatedAmqp = field(default_factory=IsolatedAmqp)
    log: io.StringIO = field(default_factory=io.StringIO)
    supervisor: Supervisor | None = None
    amqp_url: str = ""

    @property
    def blob_dir(self) -> Path:
        return ROOT / "bench" / "out" / f"blobs-{self.database.name}"

    @property
    def webhook_url(self) -> str:
        assert self.supervisor is not None
        return f"{self.supervisor.processes['ingest'].base_url}/webhooks/raw"

    def pids(self) -> dict[str, int]:
        assert self.supervisor is not None
        return {name: p.process.pid for name, p in self.supervisor.processes.items()}

    async def start(self) -> None:
        database_url = await self.database.create()
        self.amqp_url = self.vhost.create()
        names = (*SERVICES, MAILSINK)
        smtp_port = self.base_port + len(names)
        await _prepare_tenant(database_url, smtp_port)
        self.supervisor = Supervisor(
            env={
                "DATABASE_URL": database_url,
                "AMQP_URL": self.amqp_url,
                "BLOB_DIR": str(self.blob_dir),
                "INGEST_WEBHOOK_SECRET": SECRET,
                "LOG_LEVEL": "WARNING",
                "INGEST_RATE_PER_SOURCE": "off",  # the bench is one source offering a lot
                "INGEST_RATE_PER_TENANT": "off",
                "DB_POOL_SIZE": str(self.db_pool_size),
                "MAILSINK_SMTP_PORT": str(smtp_port),
                "MAILSINK_DIR": str(self.blob_dir.parent / f"sent-{self.database.name}"),
            },
            ports={name: self.base_port + i for i, name in enumerate(names)},
            sink=self.log,
        )
        self.supervisor.start_all()
        await asyncio.to_thread(self.supervisor.wait_ready, 120)

    async def stop_consumers(self) -> None:
        assert self.supervisor is not None
        for name in CONSUMERS:
            await asyncio.to_thread(self.supervisor.stop, name)

    async def start_consumers(self) -> None:
        assert self.supervisor is not None
        for name in CONSUMERS:
            self.supervisor.start(name)
        await asyncio.to_thread(self.supervisor.wait_ready, 120)

    async def close(self) -> None:
        if self.supervisor is not None:
            await asyncio.to_thread(self.supervisor.stop_all)
        self.vhost.drop()
        await self.database.drop()
        shutil.rmtree(self.blob_dir, ignore_errors=True)
        shutil.rmtree(self.blob_dir.parent / f"sent-{self.database.name}", ignore_errors=True)


async def _prepare_tenant(database_url: str, smtp_port: int) -> None:
    """The demo tenant, its users always at work, its SMTP server the stack's mail sink."""
    engine = make_engine(database_url, pool_size=1)
    sessions = make_sessions(engine)
    demo = await seed_demo(sessions)
    async with sessions() as session, session.begin():
        await session.execute(
            update(User).where(col(User.tenant_id) == demo.tenant_id).values(working_hours={})
        )
        await session.execute(
            update(SmtpServer)
            .where(col(SmtpServer.tenant_id) == demo.tenant_id)
            .values(port=smtp_port)
        )
    await engine.dispose()
