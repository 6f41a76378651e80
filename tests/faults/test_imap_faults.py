"""Scenario 9 (part): ingest polling an IMAP mailbox of a private Dovecot; ingest killed between
its commit and the \\Seen flag, and the connection cut mid-fetch by a Dovecot restart.

The Dovecot test server of ingest's own tests (services/ingest/tests/dovecot.py)
holds the mailbox; the demo mailbox reads it (an `imap_mailboxes` row,
after-action "flag"). A mail counts as accepted once the test's APPEND to
the server was answered OK. The poller reaches Dovecot through a TCP
proxy of the test, which holds the poller's first connection at a chosen
command, so each fault comes at a known step rather than a moment:

- killed before \\Seen: the proxy keeps back the first `UID STORE` (the
  \\Seen flag of the first message, sent after its `mail.received` was
  confirmed and marked published). Ingest gets SIGKILL there, and is
  started again once the dead replica's lease ran out: the first message
  is read again (a duplicate to ingest), every message is flagged.
- cut mid-fetch: the proxy passes part of the first `UID FETCH` answer and
  keeps back the rest; Dovecot is restarted (every connection closed).
  Nothing was accepted from the cut fetch; the poller reconnects and reads
  the mailbox from where it was.

Every mail ends as one message, all flagged \\Seen, and the invariant holds.
The test mails are sent with CRLF line ends, as IMAP returns them, so the
bytes ingest fetches are the bytes the test counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imap_tools import MailBoxUnencrypted
from postdesk_ingest.imap import seal_imap_password
from postdesk_runtime.db import make_sessions
from postdesk_runtime.keyring import Keyring
from postdesk_runtime.settings import DEV_ENCRYPTION_KEYS
from postdesk_schema import EmailAccount, ImapMailbox
from postdesk_testing import eventually
from sqlalchemy import select
from sqlmodel import col

from tests.faults.stack import (
    MAILBOX,
    MAILSINK,
    PIPELINE,
    ROOT,
    FaultStack,
    corpus,
    ingest_rows,
    published,
)

pytestmark = pytest.mark.e2e


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

MAILS = 8
USER, PASSWORD = "cs@imap.example", "imap-faults-password"
# a replica killed holds its mailbox's lease this long; then another claims it
IMAP_ENV = {
    "INGEST_IMAP_LEASE_SECONDS": "3",
    "INGEST_IMAP_CLAIM_INTERVAL_SECONDS": "0.2",
    "INGEST_IMAP_BACKOFF_INITIAL_SECONDS": "0.1",
    "INGEST_IMAP_BACKOFF_MAX_SECONDS": "0.5",
}
FETCH_CUT_AFTER = 1000  # bytes of the first UID FETCH answer passed before the hold


@pytest.fixture
def dovecot() -> Iterator[Any]:
    server = Dovecot(users={USER: PASSWORD})
    server.start()
    yield server
    server.cleanup()


@dataclass
class HoldingProxy:
    """TCP proxy to Dovecot. On the first connection whose client sends `command`, it passes
    `pass_bytes` more of the server's answer and then nothing either way (the connection stays
    open, both peers wait); `held` is set then. Every other connection passes everything."""

    upstream_port: int
    command: bytes
    pass_bytes: int = 0
    held: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0
    holder: int | None = None  # the connection held
    ends: list[asyncio.StreamWriter] = field(default_factory=list)
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

        def passable(data: bytes, from_client: bool) -> bytes:
            """The part of `data` to pass on: all of it, some or none."""
            nonlocal answered
            if self.holder not in (None, number):
                return data
            if self.held.is_set():
                return b""
            if self.holder is None:
                if from_client:
                    sent_by_client.extend(data)
                    if self.command in sent_by_client:
                        self.holder = number
                        if self.pass_bytes == 0:
                            self.held.set()
                            return b""
                return data
            if from_client:
                return data
            allowed = self.pass_bytes - answered
            answered += len(data)
            if len(data) >= allowed:
                self.held.set()
                return data[:allowed]
            return data

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, from_client: bool
        ) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    if part := passable(data, from_client):
                        dst.write(part)
                        await dst.drain()
            for end in (writer, up_writer):
                end.transport.abort()  # one side closed (ingest killed, Dovecot restarted)

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


def crlf(raw: bytes) -> bytes:
    """The mail with CRLF line ends, as an IMAP server returns it."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def with_mailbox(dovecot: Any, work: Callable[[MailBoxUnencrypted], Any]) -> Any:
    with MailBoxUnencrypted(dovecot.host, dovecot.port).login(
        USER, PASSWORD, initial_folder=None
    ) as mailbox:
        return work(mailbox)


async def append(stack: FaultStack, dovecot: Any, mails: list[bytes]) -> None:
    """The source: each mail APPENDed (unseen); accepted once the server answered OK."""

    def work(mailbox: MailBoxUnencrypted) -> None:
        for raw in mails:
            mailbox.append(raw, "INBOX", flag_set=())
            stack.accept(raw)

    await asyncio.to_thread(with_mailbox, dovecot, work)


async def seen_flags(dovecot: Any) -> list[bool]:
    """Per message of INBOX in UID order: is it flagged \\Seen (read without changing it)."""

    def work(mailbox: MailBoxUnencrypted) -> list[bool]:
        mailbox.folder.set("INBOX", readonly=True)
        found = {
            int(m.uid or 0): "\\Seen" in m.flags
            for m in mailbox.fetch(mark_seen=False, headers_only=True, bulk=True)
        }
        return [found[uid] for uid in sorted(found)]

    return list(await asyncio.to_thread(with_mailbox, dovecot, work))


async def add_mailbox(stack: FaultStack, port: int) -> None:
    """The demo mailbox reads the Dovecot user's INBOX (through the proxy at `port`)."""
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
                folder="INBOX",
                after_action="flag",
                poll_interval_seconds=1,
                use_idle=False,
            )
        )


async def all_seen(dovecot: Any) -> None:
    async def done() -> bool | None:
        flags = await seen_flags(dovecot)
        return True if len(flags) == MAILS and all(flags) else None

    await eventually(done, within=45, interval=0.2)


async def start_pipeline(stack: FaultStack) -> None:
    stack.supervisor.start("ingest", **IMAP_ENV)
    await stack.start(*(name for name in PIPELINE if name != "ingest"), MAILSINK)


async def test_ingest_killed_after_its_commit_before_the_seen_flag_reads_each_mail_once(
    fault_stack: FaultStack, corpus_dir: Path, dovecot: Any
) -> None:
    mails = [crlf(raw) for raw in corpus(corpus_dir, 40)[:MAILS]]
    await append(fault_stack, dovecot, mails)
    # the \Seen flag of the first message, sent after its publish was confirmed
    proxy = HoldingProxy(dovecot.port, b"UID STORE")
    await proxy.start()
    try:
        await add_mailbox(fault_stack, proxy.port)
        await start_pipeline(fault_stack)
        await asyncio.wait_for(proxy.held.wait(), 45)
        # the first message published and marked, not yet flagged
        assert await ingest_rows(fault_stack) == published(mails[:1])
        assert await seen_flags(dovecot) == [False] * MAILS
        assert await asyncio.to_thread(fault_stack.kill, "ingest") == -9

        fault_stack.supervisor.start("ingest", **IMAP_ENV)
        await all_seen(dovecot)
    finally:
        await proxy.stop()

    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0


async def test_a_connection_cut_mid_fetch_by_a_dovecot_restart_loses_and_doubles_nothing(
    fault_stack: FaultStack, corpus_dir: Path, dovecot: Any
) -> None:
    mails = [crlf(raw) for raw in corpus(corpus_dir, 40)[:MAILS]]
    assert sum(map(len, mails)) > 4 * FETCH_CUT_AFTER  # the cut comes inside the mail
    await append(fault_stack, dovecot, mails)
    proxy = HoldingProxy(dovecot.port, b"UID FETCH", FETCH_CUT_AFTER)
    await proxy.start()
    try:
        await add_mailbox(fault_stack, proxy.port)
        await start_pipeline(fault_stack)
        await asyncio.wait_for(proxy.held.wait(), 45)
        await asyncio.to_thread(dovecot.restart)
        # nothing of the cut fetch was accepted
        assert await ingest_rows(fault_stack) == []
        await all_seen(dovecot)
    finally:
        await proxy.stop()

    assert proxy.connections >= 2  # the poller reconnected
    assert "imap mailbox failed; retrying" in fault_stack.log.getvalue()
    assert await ingest_rows(fault_stack) == published(mails)
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == MAILS
    assert report.answers_requested > 0
