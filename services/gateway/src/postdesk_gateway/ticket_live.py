"""The ticket view's live updates: who else is viewing or replying, and ticket changes.

Shared state without a table: every change travels as `pg_notify` on
`postdesk_ticket_events`, and every gateway replica LISTENs there (on the
notification listener's connection, see `live`), so each replica's in-memory
`TicketHub` converges on the same presence. An entry lapses `ttl` after the
notify that set it unless a heartbeat (another POST, every ~20 seconds)
renews it; `left` removes it at once. A replica that restarts starts empty
and knows everyone again within one heartbeat. Clocks are each replica's own
monotonic clock, from when it heard the notify; no wall clock is compared.

The gateway notifies ticket changes in the transaction that writes them
(`notify_ticket_changed`), so listeners hear of them on commit, never of a
rolled-back one; so does the router when mail joins a ticket (both send a
`TicketChangeNotice`). A notify is a hint: a `ticket` event tells the client
to read the ticket again. Visibility is checked when a stream opens and again
before every event it sends: a user deactivated, an assignment removed or a
ticket deleted since ends the stream instead (reconnecting is then a 404).
A stream lives no longer than its (short-lived) access token.

Memory stays bounded: per open stream an `asyncio.Event` and a set of
change names (a handful of kinds), never a queue; lapsed presence is swept
at most once per `ttl` on the next notify.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from postdesk_contracts.api_ticket_live import (
    TICKET_EVENTS_CHANNEL,
    ActivePresenceState,
    PresentUser,
    TicketChanged,
    TicketChangeNotice,
    TicketPresence,
)
from postdesk_runtime import Sessions
from postdesk_schema import Ticket
from sqlalchemy import ARRAY, Text, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db
from postdesk_gateway.domain import CurrentUser, NotFoundError
from postdesk_gateway.live import Heartbeat, NotificationListener, Wakeup

TICKET_CHANNEL = TICKET_EVENTS_CHANNEL
MAX_NAME_CHARS = 200  # a notify payload must stay under 8000 bytes
MAX_CHANGE_CHARS = 40

log = structlog.get_logger(__name__)


async def _notify(session: AsyncSession, payload: str) -> None:
    await session.execute(select(func.pg_notify(TICKET_CHANNEL, payload)))


async def notify_ticket_changed(session: AsyncSession, ticket: Ticket, change: str) -> None:
    """Tell every replica's streams of `ticket` on commit that it changed (`change`: updated,
    deleted, merged, note_added, reply_requested, reply_undone; the router's: message_added)."""
    await notify_ticket_id_changed(session, ticket.tenant_id, ticket.id, change)


async def notify_ticket_id_changed(
    session: AsyncSession, tenant_id: uuid.UUID, ticket_id: uuid.UUID, change: str
) -> None:
    """`notify_ticket_changed` for a ticket known by its id only."""
    notice = TicketChangeNotice(tenant_id=tenant_id, ticket_id=ticket_id, change=change)
    await _notify(session, notice.model_dump_json())


async def notify_tickets_changed(
    session: AsyncSession, tenant_id: uuid.UUID, ticket_ids: Sequence[uuid.UUID], change: str
) -> None:
    """`notify_ticket_changed` for many tickets in one statement (one notify each)."""
    if not ticket_ids:
        return
    payloads = [
        TicketChangeNotice(tenant_id=tenant_id, ticket_id=i, change=change).model_dump_json()
        for i in ticket_ids
    ]
    payload = func.unnest(literal(payloads, ARRAY(Text))).column_valued("payload")
    await session.execute(select(func.pg_notify(TICKET_CHANNEL, payload)))


async def notify_presence(
    session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID, state: str
) -> None:
    """Tell every replica on commit that `user` is `state` on the ticket."""
    payload = {
        "kind": "presence",
        "tenant_id": str(user.tenant_id),
        "ticket_id": str(ticket_id),
        "user_id": str(user.id),
        "name": user.full_name[:MAX_NAME_CHARS],
        "state": state,
    }
    await _notify(session, json.dumps(payload))


async def require_visible(session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID) -> Ticket:
    """The ticket if the user may see it; 404 otherwise (another tenant's, another mailbox's)."""
    ticket = await db.get_visible_ticket(session, user, ticket_id)
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


async def set_presence(
    session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID, state: str
) -> None:
    """Announce the caller's presence on a ticket they can see (404 otherwise)."""
    await require_visible(session, user, ticket_id)
    await notify_presence(session, user, ticket_id, state)
    await session.commit()


@dataclass
class _Present:
    tenant_id: uuid.UUID
    name: str
    state: ActivePresenceState
    expires: float


@dataclass(eq=False)
class Watcher:
    """One open stream of a ticket: woken by the hub, with the changes it has not sent."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    wakeup: Wakeup = field(default_factory=Wakeup)
    changes: set[str] = field(default_factory=set)

    def take_changes(self) -> list[str]:
        taken = sorted(self.changes)
        self.changes.clear()
        return taken


class TicketHub:
    """This replica's view of presence on tickets, and the open streams it wakes.

    Handles the `TICKET_CHANNEL` notifies the process's listener hears."""

    channel = TICKET_CHANNEL

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._presence: dict[uuid.UUID, dict[uuid.UUID, _Present]] = {}
        self._watchers: dict[uuid.UUID, set[Watcher]] = {}
        self._swept_at = clock()

    def now(self) -> float:
        return self._clock()

    def notified(self, payload: str) -> None:
        try:
            body = json.loads(payload)
            ticket_id = uuid.UUID(body["ticket_id"])
            tenant_id = uuid.UUID(body["tenant_id"])
            if body["kind"] == "presence":
                self._set_presence(ticket_id, tenant_id, body)
            else:
                for watcher in self._watchers.get(ticket_id, ()):
                    watcher.changes.add(str(body["change"])[:MAX_CHANGE_CHARS])
        except (ValueError, KeyError, TypeError):
            log.warning("ticket events: a payload it cannot read", payload=payload[:200])
            return
        for watcher in self._watchers.get(ticket_id, ()):
            watcher.wakeup.set()
        self._sweep()

    def reconnected(self) -> None:
        """The listener (re)connected: a change may have gone unheard, so streams say so."""
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.changes.add("updated")
        self.wake_all()

    def wake_all(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.wakeup.set()

    @contextlib.contextmanager
    def watch(self, ticket_id: uuid.UUID, user: CurrentUser) -> Iterator[Watcher]:
        """A watcher of `ticket_id` for one stream of `user`, registered while the block runs."""
        watcher = Watcher(user.tenant_id, user.id)
        self._watchers.setdefault(ticket_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            watchers = self._watchers.get(ticket_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self._watchers[ticket_id]

    def others(self, ticket_id: uuid.UUID, watcher: Watcher) -> list[PresentUser]:
        """Who else of the watcher's tenant is on the ticket now, by name."""
        self._prune(ticket_id)
        present = self._presence.get(ticket_id, {})
        users = [
            PresentUser(user_id=user_id, name=p.name, state=p.state)
            for user_id, p in present.items()
            if user_id != watcher.user_id and p.tenant_id == watcher.tenant_id
        ]
        return sorted(users, key=lambda u: (u.name, str(u.user_id)))

    def seconds_to_lapse(self, ticket_id: uuid.UUID) -> float | None:
        """Until the next presence on the ticket lapses; None when nobody is there."""
        present = self._presence.get(ticket_id)
        if not present:
            return None
        return max(0.0, min(p.expires for p in present.values()) - self._clock())

    def _set_presence(
        self, ticket_id: uuid.UUID, tenant_id: uuid.UUID, body: dict[str, str]
    ) -> None:
        user_id = uuid.UUID(body["user_id"])
        if body["state"] == "left":
            present = self._presence.get(ticket_id, {})
            present.pop(user_id, None)
            if not present:
                self._presence.pop(ticket_id, None)
            return
        state: ActivePresenceState = "replying" if body["state"] == "replying" else "viewing"
        self._presence.setdefault(ticket_id, {})[user_id] = _Present(
            tenant_id, str(body["name"]), state, self._clock() + self._ttl
        )

    def _prune(self, ticket_id: uuid.UUID) -> None:
        present = self._presence.get(ticket_id)
        if present is None:
            return
        now = self._clock()
        for user_id in [u for u, p in present.items() if p.expires <= now]:
            del present[user_id]
        if not present:
            del self._presence[ticket_id]

    def _sweep(self) -> None:
        if self._clock() - self._swept_at < self._ttl:
            return
        self._swept_at = self._clock()
        for ticket_id in list(self._presence):
            self._prune(ticket_id)


@dataclass(frozen=True)
class TicketStreams:
    """Streams of one ticket's presence and changes, woken by the hub."""

    hub: TicketHub
    listener: NotificationListener
    keepalive: timedelta
    sessions: Sessions

    async def _still_visible(self, user: CurrentUser, ticket_id: uuid.UUID) -> bool:
        """Whether the user is still active and may still see the ticket (rights as now)."""
        async with self.sessions() as session:
            current = await db.load_active_user(session, user.id, user.tenant_id)
            return current is not None and (
                await db.get_visible_ticket(session, current, ticket_id) is not None
            )

    async def events(
        self, user: CurrentUser, ticket_id: uuid.UUID, *, until: datetime
    ) -> AsyncIterator[TicketPresence | TicketChanged | Heartbeat]:
        """The others' presence on the ticket (at once, then whenever it changes, a lapse
        included) and its changes, with a heartbeat after `keepalive` without an event;
        ends at `until` (the token's expiry) or when the app shuts down."""
        keepalive = self.keepalive.total_seconds()
        sent: list[PresentUser] | None = None
        with self.hub.watch(ticket_id, user) as watcher:
            quiet_since = self.hub.now()
            while not self.listener.closed:
                watcher.wakeup.clear()  # before reading: a notify meanwhile wakes us again
                changes = watcher.take_changes()
                present = self.hub.others(ticket_id, watcher)
                if (changes or present != sent) and not await self._still_visible(user, ticket_id):
                    return
                if changes:
                    quiet_since = self.hub.now()
                    yield TicketChanged(ticket_id=ticket_id, changes=changes)
                if present != sent:
                    sent, quiet_since = present, self.hub.now()
                    yield TicketPresence(ticket_id=ticket_id, users=present)
                left = (until - datetime.now(until.tzinfo)).total_seconds()
                if left <= 0 or self.listener.closed:
                    return
                to_keepalive = keepalive - (self.hub.now() - quiet_since)
                if to_keepalive <= 0:
                    quiet_since = self.hub.now()
                    yield Heartbeat()
                    continue
                lapse = self.hub.seconds_to_lapse(ticket_id)
                waits = [to_keepalive, left] + ([lapse + 0.01] if lapse is not None else [])
                await watcher.wakeup.wait(min(waits))
