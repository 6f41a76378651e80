"""Reading one IMAP mailbox: the live worker of a leased mailbox, and a one-off backfill.

Per message, in UID order: fetch the raw bytes (BODY.PEEK[]), accept them
through `accept_raw_mail` (stored, logged, mail.received confirmed), then
the after-action, then advance last_uid. A failure anywhere leaves last_uid
before the message, so it is read again later and ingest answers
"duplicate" if it had got that far: nothing lost, nothing taken twice.

IMAP calls block, so they run in a worker thread (one executor thread per
mailbox); accepting runs on the event loop.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ParamSpec, TypeVar

import structlog
from postdesk_contracts.events import Channel
from postdesk_runtime.failpoints import failpoint
from postdesk_runtime.imap_credentials import open_imap_password
from postdesk_runtime.keyring import Keyring, KeyringError
from sqlalchemy.exc import SQLAlchemyError

from postdesk_ingest.imap import db
from postdesk_ingest.imap.client import TRANSIENT_ERRORS, ImapCommandError, ImapSession
from postdesk_ingest.imap.domain import (
    BACKFILL_SOURCE,
    AfterAction,
    Backoff,
    ConfigError,
    live_source,
    new_uids,
    resume_at,
)
from postdesk_ingest.imap.settings import ImapSettings
from postdesk_ingest.service import Ports, UnavailableError, accept_raw_mail

log = structlog.get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Failures after which a mailbox is retried with a backoff (the worker keeps its lease).
RETRIED_ERRORS: tuple[type[Exception], ...] = (
    *TRANSIENT_ERRORS,
    UnavailableError,
    SQLAlchemyError,
    KeyringError,
    ConfigError,
)


BACKFILL_RETRIED: tuple[type[Exception], ...] = (*TRANSIENT_ERRORS, UnavailableError)


class LeaseLostError(Exception):
    """Another replica holds the mailbox now (or it was deactivated): stop reading it."""


class BackfillError(Exception):
    """A backfill that cannot start; the message says why."""


def open_session(row: db.MailboxRow, keyring: Keyring, settings: ImapSettings) -> ImapSession:
    password = open_imap_password(keyring, row.password_ciphertext)
    return ImapSession.open(
        row.host,
        row.port,
        row.security,
        row.username,
        password,
        timeout=settings.connect_timeout_seconds,
    )


class MailboxWorker:
    """Reads one leased mailbox until cancelled or the lease is lost."""

    def __init__(
        self,
        mailbox_id: uuid.UUID,
        *,
        ports: Ports,
        keyring: Keyring,
        owner: str,
        settings: ImapSettings,
        executor: Executor | None = None,
    ) -> None:
        self.mailbox_id = mailbox_id
        self._ports = ports
        self._sessions = ports.sessions
        self._keyring = keyring
        self._owner = owner
        self._settings = settings
        self._executor = executor
        self._session: ImapSession | None = None
        self._log = log.bind(mailbox_id=str(mailbox_id))

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    async def _open(self, row: db.MailboxRow) -> ImapSession:
        """Connect in the worker thread; if cancelled meanwhile, the session is closed when ready."""
        loop = asyncio.get_running_loop()
        opening = loop.run_in_executor(
            self._executor, partial(open_session, row, self._keyring, self._settings)
        )
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_discard_opened)
            raise

    def abort(self) -> None:
        """Unblock the worker thread (shutdown): its IMAP read fails at once."""
        if self._session is not None:
            self._session.abort()

    async def run(self) -> None:
        backoff = Backoff(
            self._settings.backoff_initial_seconds, self._settings.backoff_max_seconds
        )
        while True:
            try:
                await self._connected(backoff)
            except LeaseLostError:
                self._log.info("imap lease lost; stopping")
                return
            except RETRIED_ERRORS as error:
                delay = backoff.delay()
                self._log.warning(
                    "imap mailbox failed; retrying", error=repr(error), retry_in=delay
                )
                await self._record_error(repr(error))
                await asyncio.sleep(delay)

    async def _connected(self, backoff: Backoff) -> None:
        async with self._sessions() as session:
            row = await db.load_mailbox(session, self.mailbox_id)
        if row is None:
            raise LeaseLostError("mailbox deleted or deactivated")
        action = AfterAction.parse(row.after_action, row.move_to_folder)
        self._session = conn = await self._open(row)
        try:
            if action.folder is not None:
                await self._call(conn.ensure_folder, action.folder)
            while True:
                await self.sync_once(row, action, conn)
                backoff.reset()
                if row.use_idle and conn.supports_idle:
                    await self._call(conn.wait_for_change, self._settings.idle_seconds)
                else:
                    await asyncio.sleep(row.poll_interval_seconds)
        except asyncio.CancelledError:
            conn.abort()  # the thread may be blocked in IDLE or a read: make it fail now
            raise
        finally:
            self._session = None
            await asyncio.shield(self._call(conn.close))

    async def sync_once(self, row: db.MailboxRow, action: AfterAction, conn: ImapSession) -> int:
        """Read every new message of the folder once; return how many were accepted."""
        selected = await self._call(conn.select, row.folder)
        async with self._sessions() as session:
            state = await db.load_state(session, row.id)
        if state is None or state.lease_owner != self._owner:
            raise LeaseLostError("lease not held")
        position = resume_at(state.uidvalidity, state.last_uid, selected.uidvalidity)
        if position.reset:
            if state.uidvalidity is not None:
                self._log.warning(
                    "imap UIDVALIDITY changed; reading the folder again",
                    old=state.uidvalidity,
                    new=selected.uidvalidity,
                )
            async with self._sessions() as session, session.begin():
                held = await db.set_position(
                    session, row.id, owner=self._owner, uidvalidity=position.uidvalidity, last_uid=0
                )
            if not held:
                raise LeaseLostError("lease not held")
        uids = new_uids(await self._call(conn.uids_after, position.last_uid), position.last_uid)
        accepted = 0
        for start in range(0, len(uids), self._settings.fetch_batch):
            batch = uids[start : start + self._settings.fetch_batch]
            raws = await self._call(conn.fetch_raw, batch)
            failpoint("ingest.imap.after_fetch")  # kill tests: fetched, nothing stored yet
            for uid in batch:
                raw = raws.get(uid)
                if raw is not None:
                    await accept_raw_mail(
                        raw,
                        [row.address],
                        self._ports,
                        channel=Channel.IMAP,
                        source=live_source(row.id),
                        tenant_id=row.tenant_id,
                    )
                    await self._call(conn.apply, uid, action)
                    accepted += 1
                elif uid in await self._call(conn.uids_after, uid - 1):
                    raise ImapCommandError(f"the server did not return UID {uid}")
                # else: expunged since the search, nothing to read
                async with self._sessions() as session, session.begin():
                    advanced = await db.advance(
                        session,
                        row.id,
                        owner=self._owner,
                        uidvalidity=position.uidvalidity,
                        uid=uid,
                        fetched=int(raw is not None),
                    )
                if not advanced:
                    raise LeaseLostError("lease or UIDVALIDITY moved on")
        async with self._sessions() as session, session.begin():
            await db.record_poll(session, row.id, owner=self._owner)
        if accepted:
            self._log.debug("imap messages accepted", count=accepted)
        return accepted

    async def _record_error(self, error: str) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await db.record_poll(session, self.mailbox_id, owner=self._owner, error=error)
        except (SQLAlchemyError, OSError) as db_error:  # the database may be what failed
            self._log.warning("could not record the imap error", error=repr(db_error))


def _discard_opened(opening: asyncio.Future[ImapSession]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().discard()


@dataclass(frozen=True)
class BackfillResult:
    total: int
    accepted: int
    duplicates: int
    seconds: float


async def backfill(
    mailbox_id: uuid.UUID,
    *,
    ports: Ports,
    keyring: Keyring,
    settings: ImapSettings,
    progress: Callable[[int, int], None] = lambda done, total: None,
    max_attempts: int = 5,
) -> BackfillResult:
    """Read the folder's messages up to the poller's position once, as source "imap-backfill".

    Read-only (EXAMINE, BODY.PEEK[]): no after-action, no lease, and the
    poller's position is not moved. Mail past the position is the poller's,
    so it keeps its live source. Reconnects on a cut and goes on where it was.
    """
    async with ports.sessions() as session, session.begin():
        row = await db.load_mailbox(session, mailbox_id)
        state = await db.load_state(session, mailbox_id)
    if row is None:
        raise BackfillError(f"no active IMAP mailbox {mailbox_id}")
    if state is None or state.uidvalidity is None:
        raise BackfillError(
            "the mailbox has no read position yet: add it with `postdesk imap add` "
            "(which records one) or let the poller read it first"
        )
    started = time.monotonic()
    done = accepted = duplicates = 0
    next_uid = 0
    total: int | None = None
    backoff = Backoff(settings.backoff_initial_seconds, settings.backoff_max_seconds)
    failures = 0
    while True:
        try:
            conn = await asyncio.to_thread(open_session, row, keyring, settings)
            try:
                selected = await asyncio.to_thread(conn.select, row.folder, readonly=True)
                if selected.uidvalidity != state.uidvalidity:
                    raise BackfillError(
                        "the folder's UIDVALIDITY changed since the poller's position was "
                        "recorded; the poller re-reads the folder itself"
                    )
                uids = [
                    u for u in await asyncio.to_thread(conn.uids_after, 0) if u <= state.last_uid
                ]
                if total is None:
                    total = len(uids)
                    progress(0, total)
                for start in range(0, len(uids), settings.fetch_batch):
                    batch = [
                        uid for uid in uids[start : start + settings.fetch_batch] if uid > next_uid
                    ]
                    if not batch:
                        continue
                    raws = await asyncio.to_thread(conn.fetch_raw, batch)
                    for uid in batch:
                        raw = raws.get(uid)
                        if raw is not None:
                            result = await accept_raw_mail(
                                raw,
                                [row.address],
                                ports,
                                channel=Channel.IMAP,
                                source=BACKFILL_SOURCE,
                                tenant_id=row.tenant_id,
                            )
                            accepted += result.status == "accepted"
                            duplicates += result.status == "duplicate"
                        next_uid = uid
                        done += 1
                        failures = 0
                    progress(done, total)
                    async with ports.sessions() as session, session.begin():
                        await db.record_backfill(session, row.id, total=total, done=done)
            finally:
                conn.abort()
                await asyncio.to_thread(conn.close)
            return BackfillResult(total, accepted, duplicates, time.monotonic() - started)
        except BACKFILL_RETRIED as error:
            failures += 1
            if failures >= max_attempts:
                raise
            delay = backoff.delay()
            log.warning("imap backfill interrupted; resuming", error=repr(error), retry_in=delay)
            await asyncio.sleep(delay)
