"""Live notifications over server-sent events, on a gateway served by uvicorn (as in
production) against the real PostgreSQL: the listener's LISTEN connection, pg_notify from
another connection, replay after Last-Event-ID, reconnecting, and a clean shutdown.

Notifications are written the way the notifier writes them: a row, and pg_notify with the
user's id. A notify is a hint: without one a stream reads nothing (it sends keep-alives),
so an event that arrives after a notify was woken by it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from postdesk_gateway.auth import TokenService
from postdesk_gateway.domain import KeyCursor, decode_key, encode_key
from postdesk_gateway.live import APPLICATION_NAME, CHANNEL, asyncpg_dsn
from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions
from postdesk_runtime.serve import make_server
from postdesk_schema import Notification, User
from postdesk_testing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

JWT_SECRET = "test-secret-" + "x" * 32
KEEPALIVE_SECONDS = 0.5
WAIT_SECONDS = 15


@dataclass
class Event:
    """One server-sent event as a client parses it; comment-only ones too."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: str | None = None

    @property
    def notification(self) -> dict[str, Any]:
        assert self.event == "notification", self
        body: dict[str, Any] = json.loads("\n".join(self.data))
        return body

    @property
    def is_keepalive(self) -> bool:
        return self.event is None and not self.data and self.comments == ["keep-alive"]


async def sse_events(response: httpx.Response) -> AsyncIterator[Event]:
    current = Event()
    async for line in response.aiter_lines():
        if not line:
            yield current
            current = Event()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data.append(value)
            elif name in ("id", "event", "retry"):
                setattr(current, name, value)


async def next_event(events: AsyncIterator[Event]) -> Event:
    async with asyncio.timeout(WAIT_SECONDS):
        return await anext(events)


async def next_notification(events: AsyncIterator[Event]) -> Event:
    """The next notification event, skipping keep-alives."""
    while (event := await next_event(events)).is_keepalive:
        pass
    return event


@dataclass
class Served:
    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve_gateway(settings: GatewaySettings) -> Served:
    app = create_app(settings)
    server = make_server(
        app, settings, before_drain=app.state["notification_listener"].close_streams
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server failed to start"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return Served(server, task, f"http://127.0.0.1:{port}")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def settings(database_url: str, amqp_url: str) -> GatewaySettings:
    return GatewaySettings(
        database_url=database_url,
        amqp_url=amqp_url,
        jwt_secret=JWT_SECRET,
        http_port=0,
        notification_keepalive_seconds=KEEPALIVE_SECONDS,
        # Longer than any wait here: a stream still open at shutdown would show as a cut.
        shutdown_grace_seconds=60,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(settings: GatewaySettings, database_url: str) -> AsyncIterator[Served]:
    served = await serve_gateway(settings)
    await listener_pids(database_url, wait_for_one=True)
    yield served
    await served.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def database(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own: the notifier's side of the channel."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    yield connection
    await connection.close()


async def listener_pids(database_url: str, *, wait_for_one: bool = False) -> set[int]:
    """The backends of gateway listeners listening in this database."""

    async def probe() -> set[int] | None:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = $1 AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')",
                APPLICATION_NAME,
            )
        finally:
            await connection.close()
        pids = {row["pid"] for row in rows}
        return pids if pids or not wait_for_one else None

    return await eventually(probe) if wait_for_one else (await probe() or set())


async def new_user(sessions: Sessions, world: Any) -> User:
    user = User(
        tenant_id=world.tenant_a,
        email=f"live-{uuid.uuid4().hex[:12]}@example.test",
        password_hash="not used: the tests issue tokens",
        full_name="Live",
    )
    async with sessions() as session:
        session.add(user)
        await session.commit()
    return user


def bearer(user: User, lifetime: timedelta = timedelta(minutes=5)) -> dict[str, str]:
    token = TokenService(JWT_SECRET, lifetime=lifetime).issue(user.id, user.tenant_id)
    return {"Authorization": f"Bearer {token}"}


async def add_notification(
    sessions: Sessions, user: User, *, updated_at: datetime | None = None
) -> Notification:
    at = updated_at or datetime.now(UTC)
    row = Notification(
        tenant_id=user.tenant_id,
        user_id=user.id,
        kind="mention",
        title="You were mentioned",
        source_event_id=uuid.uuid4(),
        created_at=at,
        updated_at=at,
    )
    async with sessions() as session:
        session.add(row)
        await session.commit()
    return row


async def notify(connection: asyncpg.Connection, user: User) -> None:
    await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, str(user.id))


def client(served: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=served.base_url, timeout=httpx.Timeout(WAIT_SECONDS))


class TestLiveStream:
    async def test_a_notify_wakes_the_users_stream(
        self, gateway: Served, sessions: Sessions, world: Any, database: asyncpg.Connection
    ) -> None:
        """A row alone is not sent (only keep-alives come); a notify for another user wakes
        nothing; the user's notify from another connection brings the row as an event with
        the notification as data and its position as id."""
        user, other = await new_user(sessions, world), await new_user(sessions, world)
        async with (
            client(gateway) as http,
            http.stream("GET", "/notifications/stream", headers=bearer(user)) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            hello = await next_event(events)
            assert (hello.comments, hello.retry) == (["connected"], "3000")
            assert (await next_event(events)).is_keepalive  # it read, and now it waits

            row = await add_notification(sessions, user)
            assert (await next_event(events)).is_keepalive  # written, but nobody said so
            await notify(database, other)
            assert (await next_event(events)).is_keepalive
            await notify(database, user)
            event = await next_notification(events)
            assert event.notification["id"] == str(row.id)
            assert event.notification["title"] == "You were mentioned"
            assert event.notification["kind"] == "mention"
            assert decode_key(event.id or "") == KeyCursor(row.updated_at, row.id)

    async def test_last_event_id_and_since_replay_what_changed_after(
        self, gateway: Served, sessions: Sessions, world: Any, database: asyncpg.Connection
    ) -> None:
        """Reconnecting with Last-Event-ID (or ?since=) replays the rows changed after that
        position, not those long before it, then goes on live."""
        user = await new_user(sessions, world)
        now = datetime.now(UTC)
        long_before = await add_notification(sessions, user, updated_at=now - timedelta(hours=2))
        seen = await add_notification(sessions, user, updated_at=now - timedelta(hours=1))
        missed = await add_notification(sessions, user, updated_at=now - timedelta(minutes=30))
        position = encode_key(KeyCursor(seen.updated_at, seen.id))
        changed_after = [missed]
        for how in ("header", "query"):
            headers = bearer(user) | ({"Last-Event-ID": position} if how == "header" else {})
            params = {"since": position} if how == "query" else {}
            async with (
                client(gateway) as http,
                http.stream(
                    "GET", "/notifications/stream", headers=headers, params=params
                ) as response,
            ):
                assert response.status_code == 200
                events = sse_events(response)
                await next_event(events)  # connected
                replayed: list[Event] = []
                while not (event := await next_event(events)).is_keepalive:
                    replayed.append(event)
                ids = [e.notification["id"] for e in replayed]
                assert {str(n.id) for n in changed_after} <= set(ids)
                assert str(long_before.id) not in ids
                newest = changed_after[-1]
                assert decode_key(replayed[-1].id or "") == KeyCursor(newest.updated_at, newest.id)

                live = await add_notification(sessions, user)
                await notify(database, user)
                assert (await next_notification(events)).notification["id"] == str(live.id)
                changed_after.append(live)

    async def test_a_bad_position_is_a_400(
        self, gateway: Served, world: Any, sessions: Sessions
    ) -> None:
        user = await new_user(sessions, world)
        async with client(gateway) as http:
            response = await http.get(
                "/notifications/stream", headers=bearer(user) | {"Last-Event-ID": "nonsense"}
            )
        assert response.status_code == 400

    async def test_the_token_may_be_a_query_parameter_on_this_route_only(
        self, gateway: Served, sessions: Sessions, world: Any
    ) -> None:
        """EventSource cannot send headers: the stream takes ?access_token=; no other route
        does, and a bad token there is a 401 like anywhere."""
        user = await new_user(sessions, world)
        token = bearer(user)["Authorization"].removeprefix("Bearer ")
        async with client(gateway) as http:
            async with http.stream(
                "GET", "/notifications/stream", params={"access_token": token}
            ) as response:
                assert response.status_code == 200
                assert (await next_event(sse_events(response))).comments == ["connected"]
            for path in ("/notifications", "/notifications/unread-count", "/me"):
                refused = await http.get(path, params={"access_token": token})
                assert refused.status_code == 401, path
            bad = await http.get("/notifications/stream", params={"access_token": "forged"})
            assert bad.status_code == 401
            assert (await http.get("/notifications/stream")).status_code == 401

    async def test_the_stream_ends_when_the_token_expires(
        self, gateway: Served, sessions: Sessions, world: Any
    ) -> None:
        """A stream lives no longer than its token: it ends, and the client reconnects with
        a fresh one."""
        user = await new_user(sessions, world)
        async with (
            client(gateway) as http,
            http.stream(
                "GET", "/notifications/stream", headers=bearer(user, timedelta(seconds=2))
            ) as response,
        ):
            assert response.status_code == 200
            async with asyncio.timeout(WAIT_SECONDS):
                received = [event async for event in sse_events(response)]
        assert received[0].comments == ["connected"]
        assert all(e.is_keepalive for e in received[1:])

    async def test_the_listener_reconnects_and_streams_catch_up(
        self,
        gateway: Served,
        sessions: Sessions,
        world: Any,
        database: asyncpg.Connection,
        database_url: str,
    ) -> None:
        """When the listener's connection is killed, it reconnects; a row written (and
        notified) while nobody listened reaches the open stream after the reconnect, and
        notifies work again."""
        user = await new_user(sessions, world)
        async with (
            client(gateway) as http,
            http.stream("GET", "/notifications/stream", headers=bearer(user)) as response,
        ):
            events = sse_events(response)
            await next_event(events)  # connected
            before = await listener_pids(database_url, wait_for_one=True)
            for pid in before:
                await database.execute("SELECT pg_terminate_backend($1)", pid)
            during = await add_notification(sessions, user)
            await notify(database, user)  # possibly heard by nobody

            async def reconnected() -> set[int] | None:
                pids = await listener_pids(database_url)
                return pids if pids and not pids & before else None

            await eventually(reconnected)
            assert (await next_notification(events)).notification["id"] == str(during.id)
            after = await add_notification(sessions, user)
            await notify(database, user)
            assert (await next_notification(events)).notification["id"] == str(after.id)


async def test_streams_end_cleanly_when_the_server_shuts_down(
    settings: GatewaySettings, sessions: Sessions, world: Any, database_url: str
) -> None:
    """On shutdown the open streams end (the response completes) before uvicorn waits for
    responses, instead of holding the shutdown for its grace period and being cut."""
    served = await serve_gateway(settings)
    user = await new_user(sessions, world)
    async with (
        client(served) as http,
        http.stream("GET", "/notifications/stream", headers=bearer(user)) as response,
    ):
        events = sse_events(response)
        assert (await next_event(events)).comments == ["connected"]
        stopping = asyncio.create_task(served.stop())
        async with asyncio.timeout(WAIT_SECONDS):
            rest = [event async for event in events]  # a cut stream raises here
        assert all(e.is_keepalive for e in rest)
    async with asyncio.timeout(WAIT_SECONDS):
        await stopping
