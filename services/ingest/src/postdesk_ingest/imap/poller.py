"""The IMAP poller of one ingest replica: a supervised group of mailbox workers behind leases.

Every round (the lease time / 3 at most) it renews the leases it holds,
stops the workers of leases it lost, restarts workers that ended, and
claims free mailboxes up to `max_mailboxes`. A lease it cannot renew for
a whole lease time is assumed gone and its worker stopped, so at most one
replica reads a mailbox (and the position writes are fenced on the lease
besides). `stop()` cancels the workers, cuts their connections and gives
the leases back, so another replica takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import structlog
from postdesk_runtime.keyring import Keyring
from sqlalchemy.exc import SQLAlchemyError

from postdesk_ingest.imap import db
from postdesk_ingest.imap.settings import ImapSettings
from postdesk_ingest.imap.sync import MailboxWorker
from postdesk_ingest.service import Ports

log = structlog.get_logger(__name__)


def owner_id() -> str:
    """This replica's lease owner: host, process and a random part (a restarted pid differs)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class ImapPoller:
    def __init__(
        self,
        *,
        ports: Ports,
        keyring: Keyring,
        settings: ImapSettings,
        owner: str | None = None,
    ) -> None:
        self.owner = owner or owner_id()
        self._ports = ports
        self._keyring = keyring
        self._settings = settings
        self._interval = min(settings.claim_interval_seconds, settings.lease_seconds / 3)
        self._executor = ThreadPoolExecutor(
            max_workers=settings.max_mailboxes + 1, thread_name_prefix="imap"
        )
        self._workers: dict[uuid.UUID, tuple[MailboxWorker, asyncio.Task[None]]] = {}
        self._renewed_at = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    @property
    def mailbox_ids(self) -> set[uuid.UUID]:
        """The mailboxes this replica reads now."""
        return set(self._workers)

    async def start(self) -> None:
        self._renewed_at = time.monotonic()
        self._task = asyncio.create_task(self._supervise(), name="imap-poller")
        log.info("imap poller started", owner=self.owner)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._stop_workers(list(self._workers))
        try:
            async with self._ports.sessions() as session, session.begin():
                await db.release(session, owner=self.owner)
        except (SQLAlchemyError, OSError) as error:  # the leases then expire on their own
            log.warning("could not release imap leases", error=repr(error))
        self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("imap poller stopped", owner=self.owner)

    async def _supervise(self) -> None:
        while True:
            try:
                await self.tick()
            except (SQLAlchemyError, OSError) as error:
                log.warning("imap lease round failed", error=repr(error))
                if time.monotonic() - self._renewed_at > self._settings.lease_seconds:
                    log.warning("imap leases may have expired; stopping their workers")
                    await self._stop_workers(list(self._workers))
            await asyncio.sleep(self._interval)

    async def tick(self) -> None:
        """One round: reap, renew, claim, start."""
        ended = [mailbox_id for mailbox_id, (_, task) in self._workers.items() if task.done()]
        for mailbox_id in ended:
            _, task = self._workers.pop(mailbox_id)
            if not task.cancelled() and (error := task.exception()) is not None:
                log.error("imap worker crashed", mailbox_id=str(mailbox_id), exc_info=error)
        async with self._ports.sessions() as session, session.begin():
            await db.ensure_states(session)
        async with self._ports.sessions() as session, session.begin():
            if ended:
                await db.release(session, owner=self.owner, mailbox_ids=ended)
            held = await db.renew(
                session,
                owner=self.owner,
                lease_seconds=self._settings.lease_seconds,
                mailbox_ids=list(self._workers),
            )
            claimed = await db.claim(
                session,
                owner=self.owner,
                lease_seconds=self._settings.lease_seconds,
                limit=self._settings.max_mailboxes - len(held),
            )
        self._renewed_at = time.monotonic()
        await self._stop_workers([m for m in self._workers if m not in held])
        for mailbox_id in claimed:
            self._start_worker(mailbox_id)

    def _start_worker(self, mailbox_id: uuid.UUID) -> None:
        worker = MailboxWorker(
            mailbox_id,
            ports=self._ports,
            keyring=self._keyring,
            owner=self.owner,
            settings=self._settings,
            executor=self._executor,
        )
        task = asyncio.create_task(worker.run(), name=f"imap:{mailbox_id}")
        self._workers[mailbox_id] = (worker, task)
        log.info("imap mailbox claimed", mailbox_id=str(mailbox_id), owner=self.owner)

    async def _stop_workers(self, mailbox_ids: list[uuid.UUID]) -> None:
        stopping = [self._workers.pop(m) for m in mailbox_ids if m in self._workers]
        for worker, task in stopping:
            worker.abort()
            task.cancel()
        results = await asyncio.gather(*(task for _, task in stopping), return_exceptions=True)
        for (worker, _), result in zip(stopping, results, strict=True):
            if isinstance(result, Exception):
                log.error("imap worker failed", mailbox_id=str(worker.mailbox_id), exc_info=result)
