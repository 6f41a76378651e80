"""Live notifications: one LISTEN connection per gateway process wakes the users' streams.

The notifier runs `pg_notify('postdesk_notifications', '<user_id>')` in the
transaction that inserts or updates a notification, so PostgreSQL tells
listeners on commit. `NotificationListener` holds one asyncpg connection
that LISTENs on that channel, for the lifetime of the app. A notify wakes
the open streams of that user; each stream then reads the rows that
changed after its position and sends them (`NotificationStreams.events`).

Memory stays bounded by the open streams: a wake is an `asyncio.Event` per
stream, set however many notifies arrive, never a queue.

Nothing is lost to a lost connection: the listener reconnects with
exponential backoff (and pings an idle connection, so a silently dead one
is noticed), and after every (re)connect it wakes every stream, which then
reads what it missed. A notify is only a hint; the rows are the truth.

Late commits: rows are positioned by (updated_at, id), but a transaction
may commit after another that stamped a later time. So a stream reads
again from `overlap` before its position and skips the row versions it
has sent already; a reconnecting client may see an event twice (key them
by id), never miss one that committed within the overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg
import structlog
from postdesk_runtime import Sessions
from postdesk_schema import Notification
from postdesk_schema.migrate import async_url

from postdesk_gateway import notify_db
from postdesk_gateway.domain import CurrentUser, KeyCursor

CHANNEL = "postdesk_notifications"
APPLICATION_NAME = "postdesk-gateway-live"
READ_BATCH = 100
# Row versions a stream remembers having sent; beyond it the oldest go (a repeat, at worst).
MAX_REMEMBERED = 1000

log = structlog.get_logger(__name__)


def asyncpg_dsn(database_url: str) -> str:
    """The plain `postgresql://` DSN asyncpg takes, from any URL the settings accept."""
    return async_url(database_url).replace("postgresql+asyncpg://", "postgresql://", 1)


class Wakeup:
    """One stream's wake-up: set by notifies, cleared by the stream before it reads."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, seconds: float) -> bool:
        """True when woken within `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        return True


class ChannelHandler(Protocol):
    """Another channel the listener's connection carries (see `ticket_live`)."""

    @property
    def channel(self) -> str: ...

    def notified(self, payload: str) -> None:
        """A notify on `channel` arrived."""

    def reconnected(self) -> None:
        """The connection is (re)established: notifies may have gone unheard."""

    def wake_all(self) -> None:
        """Wake every stream: the app is shutting down."""


class NotificationListener:
    """The process's LISTEN connection and the open streams it wakes, by user; also
    the `channels` handlers' notifies, on the same connection."""

    def __init__(
        self,
        database_url: str,
        *,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        ping_interval: float = 30.0,
        channels: Sequence[ChannelHandler] = (),
    ) -> None:
        self._channels = tuple(channels)
        self._dsn = asyncpg_dsn(database_url)
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._ping_interval = ping_interval
        self._streams: dict[uuid.UUID, set[Wakeup]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the app shuts down: streams end."""
        return self._closed

    def start(self) -> None:
        if self._task is None:
            self._closed = False
            self._task = asyncio.create_task(self._run(), name="notification-listener")

    def close_streams(self) -> None:
        """End every open stream (and refuse new ones): the app is shutting down."""
        self._closed = True
        self._wake_all()
        for handler in self._channels:
            handler.wake_all()

    async def stop(self) -> None:
        self.close_streams()
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    @contextlib.contextmanager
    def subscribe(self, user_id: uuid.UUID) -> Iterator[Wakeup]:
        """A wake-up for one stream of `user_id`, registered while the block runs."""
        wakeup = Wakeup()
        self._streams.setdefault(user_id, set()).add(wakeup)
        try:
            yield wakeup
        finally:
            streams = self._streams.get(user_id)
            if streams is not None:
                streams.discard(wakeup)
                if not streams:
                    del self._streams[user_id]

    def _on_notify(self, connection: object, pid: int, channel: str, payload: object) -> None:
        try:
            user_id = uuid.UUID(str(payload))
        except ValueError:
            log.warning("notification listener: payload is not a user id", payload=str(payload))
            return
        for wakeup in self._streams.get(user_id, ()):
            wakeup.set()

    def _wake_all(self) -> None:
        for streams in self._streams.values():
            for wakeup in streams:
                wakeup.set()

    async def _run(self) -> None:
        delay = self._retry_initial
        while True:
            try:
                await self._listen()
                delay = self._retry_initial  # it was up: start the backoff afresh
            except Exception:  # whatever broke the connection, the loop must go on listening
                log.exception("notification listener: connection failed; retrying")
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._retry_max)

    async def _listen(self) -> None:
        """Listen until the connection is lost (returns) or the task is cancelled."""
        connection = await asyncpg.connect(
            self._dsn, server_settings={"application_name": APPLICATION_NAME}
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._on_notify)
            for handler in self._channels:
                await connection.add_listener(handler.channel, _forward_to(handler))
            log.info("notification listener: listening", channel=CHANNEL)
            self._wake_all()  # whatever was notified while nobody listened
            for handler in self._channels:
                handler.reconnected()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._ping_interval):
                        await lost.wait()
                if not lost.is_set():
                    async with asyncio.timeout(self._ping_interval):
                        await connection.execute("SELECT 1")
            log.warning("notification listener: connection lost; reconnecting")
        finally:
            with contextlib.suppress(Exception):  # a dead connection may fail to close
                await connection.close(timeout=2)


def _forward_to(handler: ChannelHandler) -> Callable[[object, int, str, object], None]:
    def forward(connection: object, pid: int, channel: str, payload: object) -> None:
        handler.notified(str(payload))

    return forward


@dataclass(frozen=True)
class Heartbeat:
    """Nothing changed for a while: a keep-alive for proxies and for the client."""


@dataclass(frozen=True)
class Change:
    """A notification that changed; `position` is where the stream stands after it."""

    position: KeyCursor
    notification: Notification


@dataclass
class _Sent:
    """Row versions a stream has sent: (id -> updated_at), oldest first."""

    versions: dict[uuid.UUID, datetime] = field(default_factory=dict)

    def is_new(self, row: Notification) -> bool:
        return self.versions.get(row.id) != row.updated_at

    def remember(self, row: Notification) -> None:
        self.versions.pop(row.id, None)
        self.versions[row.id] = row.updated_at
        while len(self.versions) > MAX_REMEMBERED:
            del self.versions[next(iter(self.versions))]

    def forget_before(self, at: datetime) -> None:
        """Forget versions older than `at`: a read from `at` on cannot meet them again."""
        for row_id in [r for r, updated in self.versions.items() if updated < at]:
            del self.versions[row_id]


@dataclass(frozen=True)
class NotificationStreams:
    """Streams of users' notification changes, woken by the listener."""

    listener: NotificationListener
    sessions: Sessions
    keepalive: timedelta
    overlap: timedelta

    async def start_position(self, since: KeyCursor | None) -> KeyCursor:
        """Where a stream starts: after `since`, or now by the database's clock."""
        if since is not None:
            return since
        async with self.sessions() as session:
            return KeyCursor(await notify_db.database_now(session), uuid.UUID(int=0))

    async def events(
        self, user: CurrentUser, start: KeyCursor, *, until: datetime
    ) -> AsyncIterator[Change | Heartbeat]:
        """The user's notification changes after `start` (from `overlap` before it, each row
        version once), as they happen, with a heartbeat after `keepalive` without one;
        ends at `until` (the token's expiry) or when the app shuts down."""
        position, sent, woken = start, _Sent(), True
        with self.listener.subscribe(user.id) as wakeup:
            while not self.listener.closed:
                if woken:
                    wakeup.clear()  # before reading: a notify during the read wakes us again
                    reread_from = KeyCursor(position.at - self.overlap, uuid.UUID(int=0))
                    async for row in self._changed(user, reread_from):
                        if not sent.is_new(row):
                            continue
                        sent.remember(row)
                        position = max(position, KeyCursor(row.updated_at, row.id))
                        yield Change(position, row)
                    sent.forget_before(position.at - self.overlap)
                left = (until - datetime.now(until.tzinfo)).total_seconds()
                if left <= 0 or self.listener.closed:
                    return
                woken = await wakeup.wait(min(self.keepalive.total_seconds(), left))
                if not woken and not self.listener.closed:
                    yield Heartbeat()

    async def _changed(self, user: CurrentUser, after: KeyCursor) -> AsyncIterator[Notification]:
        """Rows changed after `after`, a batch per short session (none held while sending)."""
        while True:
            async with self.sessions() as session:
                rows = await notify_db.notifications_changed(
                    session, user, after=after, limit=READ_BATCH
                )
            for row in rows:
                yield row
            if len(rows) < READ_BATCH:
                return
            after = KeyCursor(rows[-1].updated_at, rows[-1].id)
