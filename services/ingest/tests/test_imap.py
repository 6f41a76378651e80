"""IMAP polling against a real Dovecot, the machine's PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
import sqlalchemy as sa
from imap_tools import MailBoxUnencrypted
from opentelemetry import trace
from postdesk_contracts import Envelope
from postdesk_ingest.imap import (
    BACKFILL_SOURCE,
    AfterAction,
    ImapPoller,
    ImapSettings,
    backfill,
    seal_imap_password,
)
from postdesk_ingest.imap import db as imap_db
from postdesk_ingest.imap.sync import MailboxWorker, open_session
from postdesk_ingest.service import Ports, UnavailableError
from postdesk_runtime import (
    EventPublisher,
    LocalBlobStore,
    declare_topology,
    make_broker,
    make_engine,
    make_sessions,
)
from postdesk_runtime.keyring import Keyring
from postdesk_schema import EmailAccount, ImapMailbox, Tenant
from postdesk_testing import drain, eventually, tap

from .dovecot import Dovecot

pytestmark = pytest.mark.integration

USERS = 64
USER_NUMBERS = itertools.count()
KEYRING = Keyring.from_setting(Keyring.generate_setting("test"))
FAST = ImapSettings(
    lease_seconds=5,
    claim_interval_seconds=0.2,
    backoff_initial_seconds=0.1,
    backoff_max_seconds=0.5,
    connect_timeout_seconds=5,
    idle_seconds=30,
)


def mail(n: int = 0, *, size: int = 0) -> bytes:
    """A unique message (`size` bytes of body padding)."""
    padding = ("x" * 76 + "\r\n") * (size // 78)
    return (
        "From: Alice <alice@customer.example>\r\n"
        "To: support@acme.example\r\n"
        f"Subject: order {n}\r\n"
        f"Message-ID: <{uuid.uuid4()}@customer.example>\r\n"
        f"\r\nHello, my order {n} is late.\r\n{padding}"
    ).encode()


@dataclasses.dataclass(frozen=True)
class Box:
    id: uuid.UUID
    address: str
    user: str
    password: str
    folder: str


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    # users made up front: Dovecot notices a changed passwd-file only about a second later
    server = Dovecot(users={f"user{n}@imap.example": f"pw-{n}" for n in range(USERS)})
    server.start()
    yield server
    server.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def ports(database_url: str, amqp_url: str, blob_dir: Path) -> AsyncIterator[Ports]:
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    engine = make_engine(database_url, pool_size=4)
    sessions = make_sessions(engine)
    # The poller claims every active mailbox of the shared database: other modules' tests
    # (the gateway's admin and isolation tests) leave mailboxes that name no real server.
    async with sessions() as session, session.begin():
        await session.execute(sa.text("UPDATE imap_mailboxes SET is_active = false"))
    yield Ports(
        blobs=LocalBlobStore(blob_dir),
        sessions=sessions,
        publisher=EventPublisher(broker),
        tracer=trace.NoOpTracer(),
        publish_timeout=5,
    )
    async with sessions() as session, session.begin():  # no later test's poller reads them
        await session.execute(sa.text("UPDATE imap_mailboxes SET is_active = false"))
    await broker.stop()
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def received(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A private queue of every mail.received published from now on."""
    async with tap(amqp_url, "mail.received") as queue:
        yield queue


async def make_box(
    ports: Ports,
    dovecot: Dovecot,
    *,
    after_action: str = "flag",
    move_to: str | None = None,
    folder: str = "INBOX",
    use_idle: bool = False,
    poll_interval: int = 1,
) -> Box:
    """A tenant, an account, a Dovecot user and an imap_mailboxes row reading it."""
    suffix = uuid.uuid4().hex[:10]
    address = f"cs-{suffix}@acme-{suffix}.example"
    user = f"user{next(USER_NUMBERS)}@imap.example"
    box = Box(uuid.uuid4(), address, user, dovecot.users[user], folder)
    if folder != "INBOX":
        await asyncio.to_thread(_with_mailbox, box, dovecot, lambda mb: mb.folder.create(folder))
    async with ports.sessions() as session, session.begin():
        tenant = Tenant(name=suffix, slug=f"imap-{suffix}")
        session.add(tenant)
        await session.flush()
        account = EmailAccount(tenant_id=tenant.id, address=address)
        session.add(account)
        await session.flush()
        session.add(
            ImapMailbox(
                id=box.id,
                tenant_id=tenant.id,
                account_id=account.id,
                host=dovecot.host,
                port=dovecot.port,
                security="plain",
                username=user,
                password_ciphertext=seal_imap_password(KEYRING, box.password),
                folder=folder,
                after_action=after_action,
                move_to_folder=move_to,
                poll_interval_seconds=poll_interval,
                use_idle=use_idle,
            )
        )
    return box


def _with_mailbox(box: Box, dovecot: Dovecot, work: Callable[[MailBoxUnencrypted], Any]) -> Any:
    with MailBoxUnencrypted(dovecot.host, dovecot.port).login(
        box.user, box.password, initial_folder=None
    ) as mailbox:
        return work(mailbox)


async def append(
    box: Box, dovecot: Dovecot, messages: list[bytes], folder: str | None = None
) -> None:
    def work(mailbox: MailBoxUnencrypted) -> None:
        for raw in messages:
            mailbox.append(raw, folder or box.folder, flag_set=())

    await asyncio.to_thread(_with_mailbox, box, dovecot, work)


async def flags(box: Box, dovecot: Dovecot, folder: str | None = None) -> dict[int, set[str]]:
    """UID -> flags of every message in the folder (read without changing them)."""

    def work(mailbox: MailBoxUnencrypted) -> dict[int, set[str]]:
        mailbox.folder.set(folder or box.folder, readonly=True)
        return {
            int(m.uid or 0): set(m.flags)
            for m in mailbox.fetch(mark_seen=False, headers_only=True, bulk=True)
        }

    return dict(await asyncio.to_thread(_with_mailbox, box, dovecot, work))


async def events_of(
    queue: aio_pika.abc.AbstractQueue, source: str | set[str]
) -> list[Envelope[Any]]:
    """The waiting events from `source` (or any of a set); others are dropped."""
    sources = {source} if isinstance(source, str) else source
    got = [Envelope[dict[str, Any]].model_validate(json.loads(m.body)) for m in await drain(queue)]
    return [e for e in got if e.payload["source"] in sources]


async def collect(
    queue: aio_pika.abc.AbstractQueue, source: str | set[str], count: int, within: float = 20
) -> list[Envelope[Any]]:
    """Wait until `count` events of `source` arrived; fail if more arrive within a moment."""
    seen: list[Envelope[Any]] = []

    async def enough() -> bool | None:
        seen.extend(await events_of(queue, source))
        return True if len(seen) >= count else None

    await eventually(enough, within=within, interval=0.1)
    await asyncio.sleep(0.3)
    seen.extend(await events_of(queue, source))
    assert len(seen) == count
    return seen


async def state(ports: Ports, box: Box) -> dict[str, Any]:
    async with ports.sessions() as session:
        row = (
            await session.execute(
                sa.text("SELECT * FROM imap_sync_state WHERE mailbox_id = :id"), {"id": box.id}
            )
        ).one()
    return dict(row._mapping)


async def run_once(ports: Ports, box: Box, owner: str = "test-owner") -> int:
    """One sync of `box` by a worker holding its lease (no background tasks)."""
    async with ports.sessions() as session, session.begin():
        await imap_db.ensure_state(session, box.id)
        await session.execute(
            sa.text(
                "UPDATE imap_sync_state SET lease_owner = :owner, "
                "lease_expires_at = now() + interval '1 hour' WHERE mailbox_id = :id"
            ),
            {"owner": owner, "id": box.id},
        )
        row = await imap_db.load_mailbox(session, box.id)
    assert row is not None
    worker = MailboxWorker(box.id, ports=ports, keyring=KEYRING, owner=owner, settings=FAST)
    conn = await asyncio.to_thread(open_session, row, KEYRING, FAST)
    try:
        action = AfterAction.parse(row.after_action, row.move_to_folder)
        if action.folder:
            await asyncio.to_thread(conn.ensure_folder, action.folder)
        return await worker.sync_once(row, action, conn)
    finally:
        await asyncio.to_thread(conn.close)
        async with ports.sessions() as session, session.begin():
            await imap_db.release(session, owner=owner)


@contextlib.asynccontextmanager
async def polling(ports: Ports, settings: ImapSettings = FAST) -> AsyncIterator[ImapPoller]:
    poller = ImapPoller(ports=ports, keyring=KEYRING, settings=settings)
    await poller.start()
    try:
        yield poller
    finally:
        await poller.stop()


class SeenCountingPublisher(EventPublisher):
    """Before each publish, counts how many messages of the box are already \\Seen."""

    def __init__(self, inner: EventPublisher, box: Box, dovecot: Dovecot) -> None:
        self._inner, self._box, self._dovecot = inner, box, dovecot
        self.seen_at_publish: list[int] = []

    async def publish(self, envelope: Envelope[Any]) -> None:
        current = await flags(self._box, self._dovecot)
        self.seen_at_publish.append(sum("\\Seen" in f for f in current.values()))
        await self._inner.publish(envelope)


async def test_new_messages_become_events_and_are_flagged_after_the_publish(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """Each new message becomes one mail.received; \\Seen is set only after its publish."""
    box = await make_box(ports, dovecot)
    await append(box, dovecot, [mail(n) for n in range(3)])
    publisher = SeenCountingPublisher(ports.publisher, box, dovecot)
    async with polling(dataclasses.replace(ports, publisher=publisher)) as poller:
        events = await collect(received, f"imap:{box.id}", 3)
        assert poller.mailbox_ids == {box.id}
    assert publisher.seen_at_publish == [0, 1, 2]
    assert all(e.payload["channel"] == "imap" for e in events)
    assert all(e.payload["envelope_recipients"] == [box.address] for e in events)
    assert all("\\Seen" in f for f in (await flags(box, dovecot)).values())
    after = await state(ports, box)
    assert (after["last_uid"], after["messages_fetched"], after["last_error"]) == (3, 3, "")
    assert after["last_polled_at"] is not None
    assert after["lease_owner"] is None  # released on stop


async def test_idle_picks_up_new_mail_without_waiting_for_the_poll_interval(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """With IDLE, mail arriving later is read at once, not after poll_interval_seconds."""
    box = await make_box(ports, dovecot, use_idle=True, poll_interval=3600)
    await append(box, dovecot, [mail(1)])
    async with polling(ports):
        await collect(received, f"imap:{box.id}", 1)
        await asyncio.sleep(0.5)  # the worker is in IDLE now
        started = time.monotonic()
        await append(box, dovecot, [mail(2)])
        await collect(received, f"imap:{box.id}", 1, within=10)
        assert time.monotonic() - started < 10


async def test_move_after_action(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """after_action "move" moves each published message to the folder (created if missing)."""
    box = await make_box(ports, dovecot, after_action="move", move_to="Processed")
    await append(box, dovecot, [mail(n) for n in range(2)])
    assert await run_once(ports, box) == 2
    await collect(received, f"imap:{box.id}", 2)
    assert await flags(box, dovecot) == {}
    assert len(await flags(box, dovecot, "Processed")) == 2


async def test_leave_leaves_messages_unseen_and_reads_them_once(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """after_action "leave" changes nothing on the server, and a second sync reads nothing."""
    box = await make_box(ports, dovecot, after_action="leave")
    await append(box, dovecot, [mail(n) for n in range(2)])
    assert await run_once(ports, box) == 2
    assert await run_once(ports, box) == 0
    await collect(received, f"imap:{box.id}", 2)
    assert all("\\Seen" not in f for f in (await flags(box, dovecot)).values())


async def test_uidvalidity_change_rereads_without_duplicating_events(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """A recreated folder (new UIDVALIDITY) is read again; known mail is a duplicate downstream."""
    box = await make_box(ports, dovecot, after_action="leave", folder="Support")
    first = [mail(n) for n in range(2)]
    await append(box, dovecot, first)
    assert await run_once(ports, box) == 2
    before = await state(ports, box)

    def recreate(mailbox: MailBoxUnencrypted) -> None:
        mailbox.folder.delete("Support")
        time.sleep(1.1)  # Dovecot's UIDVALIDITY is a time in seconds
        mailbox.folder.create("Support")

    await asyncio.to_thread(_with_mailbox, box, dovecot, recreate)
    await append(box, dovecot, [*first, mail(3)])
    assert await run_once(ports, box) == 3
    events = await collect(received, f"imap:{box.id}", 3)  # 2 before, 1 new: no duplicate
    assert len({e.id for e in events}) == 3
    after = await state(ports, box)
    assert after["uidvalidity"] != before["uidvalidity"]
    assert after["last_uid"] == 3


class CuttingProxy:
    """TCP proxy to Dovecot that cuts its first connection after `cut_after` bytes to the client."""

    def __init__(self, port: int, cut_after: int) -> None:
        self.upstream_port, self.cut_after, self.cuts = port, cut_after, 0
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        cut_this = self.cuts == 0

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            sent = 0
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    sent += len(data)
                    if count and cut_this and sent > self.cut_after:
                        self.cuts += 1
                        break
                    dst.write(data)
                    await dst.drain()
            for w in (writer, up_writer):
                w.transport.abort()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))


async def test_connection_cut_mid_fetch_loses_and_duplicates_nothing(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """A connection cut during a large fetch is retried: every message exactly once downstream."""
    box = await make_box(ports, dovecot)
    await append(box, dovecot, [mail(n, size=30_000) for n in range(40)])
    proxy = CuttingProxy(dovecot.port, cut_after=500_000)
    await proxy.start()
    try:
        async with ports.sessions() as session, session.begin():
            await session.execute(
                sa.text("UPDATE imap_mailboxes SET port = :port WHERE id = :id"),
                {"port": proxy.port, "id": box.id},
            )
        async with polling(ports):
            events = await collect(received, f"imap:{box.id}", 40, within=60)
    finally:
        await proxy.stop()
    assert proxy.cuts == 1
    assert len({e.id for e in events}) == 40
    assert len({e.payload["sha256"] for e in events}) == 40
    current = await flags(box, dovecot)
    assert len(current) == 40
    assert all("\\Seen" in f for f in current.values())
    assert (await state(ports, box))["last_uid"] == 40


async def test_broker_down_means_no_after_action_and_a_later_retry_succeeds(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """Without a confirmed publish the message stays unseen and unread; the next try takes it."""
    box = await make_box(ports, dovecot)
    await append(box, dovecot, [mail(1)])
    dead_broker = make_broker("amqp://guest:guest@127.0.0.1:1/")
    down = dataclasses.replace(ports, publisher=EventPublisher(dead_broker), publish_timeout=1)
    with pytest.raises(UnavailableError):
        await run_once(down, box)
    assert all("\\Seen" not in f for f in (await flags(box, dovecot)).values())
    assert (await state(ports, box))["last_uid"] == 0

    async with polling(down):  # the poller records the failure and keeps retrying

        async def failed() -> str | None:
            return (await state(ports, box))["last_error"] or None

        assert "broker" in await eventually(failed, within=10)
    assert await events_of(received, f"imap:{box.id}") == []

    assert await run_once(ports, box) == 1
    await collect(received, f"imap:{box.id}", 1)
    assert all("\\Seen" in f for f in (await flags(box, dovecot)).values())


async def test_two_pollers_never_read_the_same_mailbox(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """Leases split the mailboxes between replicas; a stopped replica's mailboxes move over."""
    async with ports.sessions() as session, session.begin():
        await session.execute(sa.text("UPDATE imap_mailboxes SET is_active = false"))
    boxes = [await make_box(ports, dovecot) for _ in range(4)]
    a = ImapPoller(
        ports=ports, keyring=KEYRING, settings=FAST.model_copy(update={"max_mailboxes": 2})
    )
    b = ImapPoller(ports=ports, keyring=KEYRING, settings=FAST)
    try:
        for _ in range(5):
            await asyncio.gather(a.tick(), b.tick())
            assert not a.mailbox_ids & b.mailbox_ids
            assert a.mailbox_ids | b.mailbox_ids == {box.id for box in boxes}
        assert len(a.mailbox_ids) == 2
        for box in boxes:
            owner = (await state(ports, box))["lease_owner"]
            assert owner == (a.owner if box.id in a.mailbox_ids else b.owner)
        for box in boxes:
            await append(box, dovecot, [mail(1)])
        events = await collect(received, {f"imap:{box.id}" for box in boxes}, len(boxes))
        assert len({e.payload["source"] for e in events}) == len(boxes)
        await a.stop()
        await b.tick()
        assert b.mailbox_ids == {box.id for box in boxes}
    finally:
        await a.stop()
        await b.stop()


async def test_backfill_reads_old_mail_once_as_backfill(
    ports: Ports, dovecot: Dovecot, received: aio_pika.abc.AbstractQueue
) -> None:
    """Backfill reads the mail before the poller's position as "imap-backfill", with progress."""
    box = await make_box(ports, dovecot)
    await append(box, dovecot, [mail(n) for n in range(5)])
    selected = await asyncio.to_thread(
        _with_mailbox, box, dovecot, lambda mb: mb.folder.status("INBOX", ["UIDVALIDITY"])
    )
    async with ports.sessions() as session, session.begin():
        await imap_db.ensure_state(session, box.id)
        await imap_db.set_position(
            session, box.id, owner=None, uidvalidity=selected["UIDVALIDITY"], last_uid=5
        )
    await append(box, dovecot, [mail(6)])  # new mail: the poller's, not the backfill's
    progress: list[tuple[int, int]] = []
    result = await backfill(
        box.id,
        ports=ports,
        keyring=KEYRING,
        settings=FAST,
        progress=lambda d, t: progress.append((d, t)),
    )
    assert (result.total, result.accepted, result.duplicates) == (5, 5, 0)
    assert progress[0] == (0, 5)
    assert progress[-1] == (5, 5)
    await collect(received, BACKFILL_SOURCE, 5)
    assert all("\\Seen" not in f for f in (await flags(box, dovecot)).values())
    assert await run_once(ports, box) == 1
    await collect(received, f"imap:{box.id}", 1)
    after = await state(ports, box)
    assert (after["backfill_total"], after["backfill_done"]) == (5, 5)
