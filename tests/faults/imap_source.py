"""The IMAP source of the fault scenarios: a private Dovecot, its mailbox, and a holding proxy.

The Dovecot test server of ingest's own tests (services/ingest/tests/dovecot.py)
holds the mailbox; the demo mailbox reads it (an `imap_mailboxes` row).
A mail counts as accepted once the test's APPEND to the server was answered
OK. The poller reaches Dovecot through `HoldingProxy`, which stops the
poller's first connection at a chosen command, so a fault comes at a known
step rather than a moment. Test mails are sent with CRLF line ends, as IMAP
returns them, so the bytes ingest fetches are the bytes the test counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from imap_tools import MailBoxUnencrypted
from postdesk_ingest.imap import seal_imap_password
from postdesk_runtime.db import make_sessions
from postdesk_runtime.keyring import Keyring
from postdesk_runtime.settings import DEV_ENCRYPTION_KEYS
from postdesk_schema import EmailAccount, ImapMailbox
from postdesk_testing import eventually
from sqlalchemy import select, text
from sqlmodel import col

from tests.faults.stack import MAILBOX, MAILSINK, PIPELINE, ROOT, FaultStack


def _load_dovecot_module() -> Any:
    """services/ingest/tests/dovecot.py: not a package pytest can import from here (no
    `services` package on the path), so loaded from its file."""
    name = "postdesk_ingest_tests_dovecot"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "services" / "ingest" / "tests" / "dovecot.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up while being made
        spec.loader.exec_module(module)
    return sys.modules[name]


Dovecot = _load_dovecot_module().Dovecot  # an instance is typed Any here

USER, PASSWORD = "cs@imap.example", "imap-faults-password"
SEEN = "\\Seen"
# a replica killed holds its mailbox's lease this long; then another claims it
IMAP_ENV = {
    "INGEST_IMAP_LEASE_SECONDS": "3",
    "INGEST_IMAP_CLAIM_INTERVAL_SECONDS": "0.2",
    "INGEST_IMAP_BACKOFF_INITIAL_SECONDS": "0.1",
    "INGEST_IMAP_BACKOFF_MAX_SECONDS": "0.5",
}


@contextlib.contextmanager
def private_dovecot() -> Iterator[Any]:
    server = Dovecot(users={USER: PASSWORD})
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@dataclass
class HoldingProxy:
    """TCP proxy to Dovecot. On the first connection whose client sends `command` for the
    `occurrence`th time, it passes `pass_bytes` more of the server's answer and then nothing
    either way (the connection stays open, both peers wait); `held` is set then. `release()`
    passes on what was held back and everything after it. Every other connection passes
    everything."""

    upstream_port: int
    command: bytes
    pass_bytes: int = 0
    occurrence: int = 1
    held: asyncio.Event = field(default_factory=asyncio.Event)
    released: bool = False
    connections: int = 0
    holder: int | None = None  # the connection held
    ends: list[asyncio.StreamWriter] = field(default_factory=list)
    held_back: list[tuple[asyncio.StreamWriter, bytes]] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for end in self.ends:
            end.transport.abort()

    def release(self) -> None:
        """Pass on what was held back, in order, and everything from now on."""
        self.released = True
        for destination, data in self.held_back:
            if not destination.is_closing():
                destination.write(data)
        self.held_back.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self.ends.extend((writer, up_writer))
        sent_by_client = bytearray()
        answered = 0  # server bytes passed since the command (on the held connection)

        def passable(data: bytes, from_client: bool, destination: asyncio.StreamWriter) -> bytes:
            """The part of `data` to pass on now (all of it, some or none); the rest is held."""
            nonlocal answered
            if self.released or self.holder not in (None, number):
                return data
            if self.held.is_set():
                self.held_back.append((destination, data))
                return b""
            if self.holder is None:
                if from_client:
                    sent_by_client.extend(data)
                    if sent_by_client.count(self.command) >= self.occurrence:
                        self.holder = number
                        if self.pass_bytes == 0:
                            self.held.set()
                            self.held_back.append((destination, data))
                            return b""
                return data
            if from_client:
                return data
            allowed = self.pass_bytes - answered
            answered += len(data)
            if len(data) >= allowed:
                self.held.set()
                self.held_back.append((destination, data[allowed:]))
                return data[:allowed]
            return data

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, from_client: bool
        ) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    if part := passable(data, from_client, dst):
                        dst.write(part)
                        await dst.drain()
            for end in (writer, up_writer):
                end.transport.abort()  # one side closed (ingest killed, Dovecot restarted)

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


def crlf(raw: bytes) -> bytes:
    """The mail with CRLF line ends, as an IMAP server returns it."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def with_mailbox(dovecot: Any, work: Callable[[MailBoxUnencrypted], Any]) -> Any:
    """`work` on a session of another IMAP client (straight to Dovecot, not through a proxy)."""
    with MailBoxUnencrypted(dovecot.host, dovecot.port).login(
        USER, PASSWORD, initial_folder=None
    ) as mailbox:
        return work(mailbox)


async def append(
    stack: FaultStack,
    dovecot: Any,
    mails: list[bytes],
    *,
    folder: str = "INBOX",
    flags: Iterable[str] = (),
) -> None:
    """The source: each mail APPENDed (unseen unless `flags` say otherwise); accepted once the
    server answered OK."""
    flag_set = tuple(flags)

    def work(mailbox: MailBoxUnencrypted) -> None:
        for raw in mails:
            mailbox.append(raw, folder, flag_set=flag_set)
            stack.accept(raw)

    await asyncio.to_thread(with_mailbox, dovecot, work)


async def seen_flags(dovecot: Any, folder: str = "INBOX") -> list[bool]:
    """Per message of `folder` in UID order: is it flagged \\Seen (read without changing it)."""
    return [SEEN in flags for flags in (await flags_by_uid(dovecot, folder)).values()]


async def flags_by_uid(dovecot: Any, folder: str = "INBOX") -> dict[int, tuple[str, ...]]:
    """The flags of each message of `folder`, by UID in ascending order (read-only)."""

    def work(mailbox: MailBoxUnencrypted) -> dict[int, tuple[str, ...]]:
        mailbox.folder.set(folder, readonly=True)
        found = {
            int(m.uid or 0): tuple(m.flags)
            for m in mailbox.fetch(mark_seen=False, headers_only=True, bulk=True)
        }
        return dict(sorted(found.items()))

    return dict(await asyncio.to_thread(with_mailbox, dovecot, work))


async def add_mailbox(stack: FaultStack, port: int, folder: str = "INBOX") -> None:
    """The demo mailbox reads the Dovecot user's `folder` (through the proxy at `port`),
    after-action "flag", polled every second."""
    keyring = Keyring.from_setting(os.environ.get("ENCRYPTION_KEYS", DEV_ENCRYPTION_KEYS))
    async with make_sessions(stack.engine)() as session, session.begin():
        account_id = await session.scalar(
            select(col(EmailAccount.id)).where(col(EmailAccount.address) == MAILBOX)
        )
        assert account_id is not None, "the demo tenant has the mailbox"
        session.add(
            ImapMailbox(
                tenant_id=stack.tenant_id,
                account_id=account_id,
                host="127.0.0.1",
                port=port,
                security="plain",
                username=USER,
                password_ciphertext=seal_imap_password(keyring, PASSWORD),
                folder=folder,
                after_action="flag",
                poll_interval_seconds=1,
                use_idle=False,
            )
        )


@dataclass(frozen=True)
class ReadPosition:
    """The poller's imap_sync_state row of the (one) mailbox."""

    uidvalidity: int | None
    last_uid: int
    messages_fetched: int


async def read_position(stack: FaultStack) -> ReadPosition:
    async with stack.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT uidvalidity, last_uid, messages_fetched FROM imap_sync_state")
            )
        ).one()
    return ReadPosition(row.uidvalidity, row.last_uid, row.messages_fetched)


async def position_at(stack: FaultStack, last_uid: int) -> ReadPosition:
    """The read position once it has reached `last_uid`: the poller flags a batch \\Seen
    before it commits the position, so all mail seen does not mean the position moved."""

    async def reached() -> ReadPosition | None:
        position = await read_position(stack)
        return position if position.last_uid >= last_uid else None

    return await eventually(reached, within=45, interval=0.1)


async def polled_after(stack: FaultStack, seconds: float) -> None:
    """Wait until the poller finished a poll begun at least `seconds` from now (database time:
    `last_polled_at` is stamped at the end of each poll, and polls come every second)."""
    async with stack.engine.connect() as conn:
        moment = await conn.scalar(
            text("SELECT now() + make_interval(secs => :seconds)"), {"seconds": seconds}
        )

    async def stamped() -> bool | None:
        async with stack.engine.connect() as conn:
            polled = await conn.scalar(text("SELECT last_polled_at FROM imap_sync_state"))
        return True if polled is not None and polled > moment else None

    await eventually(stamped, within=15, interval=0.2)


async def all_seen(dovecot: Any, count: int, folder: str = "INBOX") -> None:
    """Wait until `folder` holds `count` messages, every one flagged \\Seen."""

    async def done() -> bool | None:
        flags = await seen_flags(dovecot, folder)
        return True if len(flags) == count and all(flags) else None

    await eventually(done, within=45, interval=0.2)


async def start_pipeline(stack: FaultStack, **ingest_env: str) -> None:
    """Ingest (with the IMAP settings and `ingest_env`), the rest of the pipeline and the sink."""
    stack.supervisor.start("ingest", **IMAP_ENV, **ingest_env)
    await stack.start(*(name for name in PIPELINE if name != "ingest"), MAILSINK)
