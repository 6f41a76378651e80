"""Live ticket view over server-sent events, on gateways served by uvicorn against the real
PostgreSQL: presence heartbeats and lapses, ticket changes by other users, across two
replicas, and the permission rules of both endpoints."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from postdesk_contracts.api_ticket_live import TICKET_EVENTS_CHANNEL, TicketChangeNotice
from postdesk_gateway.auth import TokenService
from postdesk_gateway.live import asyncpg_dsn
from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime.serve import make_server
from postdesk_schema import User

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

JWT_SECRET = "test-secret-" + "t" * 32
KEEPALIVE_SECONDS = 0.5
SHORT_TTL_SECONDS = 2.0
WAIT_SECONDS = 15


@dataclass
class Event:
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads("\n".join(self.data))
        return parsed

    @property
    def present(self) -> list[tuple[str, str]]:
        """(user id, state) of a presence event."""
        assert self.event == "presence", self
        return [(u["user_id"], u["state"]) for u in self.body["users"]]


class Stream:
    """A client's view of one ticket's event stream: its events after `connected`."""

    def __init__(self, response: httpx.Response) -> None:
        self._events = self._parse(response)

    @staticmethod
    async def _parse(response: httpx.Response) -> AsyncIterator[Event]:
        current = Event()
        async for line in response.aiter_lines():
            if not line:
                yield current
                current = Event()
            elif line.startswith(":"):
                current.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                if name == "data":
                    current.data.append(value.removeprefix(" "))
                elif name == "event":
                    current.event = value.strip()

    async def next(self) -> Event:
        """The next event that is not a comment (keep-alive, connected)."""
        async with asyncio.timeout(WAIT_SECONDS):
            while not (event := await anext(self._events)).event:
                pass
        return event

    async def next_or_keepalive(self) -> Event:
        """The next event or keep-alive comment."""
        async with asyncio.timeout(WAIT_SECONDS):
            return await anext(self._events)


@dataclass
class Served:
    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(settings: GatewaySettings) -> Served:
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


def bearer(user: User) -> dict[str, str]:
    token = TokenService(JWT_SECRET, lifetime=timedelta(minutes=5))
    return {"Authorization": f"Bearer {token.issue(user.id, user.tenant_id)}"}


def http(served: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=served.base_url, timeout=httpx.Timeout(WAIT_SECONDS))


async def say(served: Served, user: User, ticket_id: uuid.UUID, state: str) -> httpx.Response:
    async with http(served) as client:
        return await client.post(
            f"/tickets/{ticket_id}/presence", json={"state": state}, headers=bearer(user)
        )


async def await_listening(
    served: Served, watcher: User, speaker: User, ticket_id: uuid.UUID
) -> None:
    """Heartbeat `speaker`'s presence until `watcher`'s stream on `served` shows it: the
    replica's listener is listening (a notify before that is heard by nobody)."""
    async with (
        http(served) as client,
        client.stream("GET", f"/tickets/{ticket_id}/events", headers=bearer(watcher)) as resp,
    ):
        stream = Stream(resp)
        assert (await stream.next()).present == []
        while True:
            assert (await say(served, speaker, ticket_id, "viewing")).status_code == 204
            event = await stream.next_or_keepalive()
            if event.event == "presence" and event.present:
                break
        assert (await say(served, speaker, ticket_id, "left")).status_code == 204
        assert (await stream.next()).present == []


def settings_for(database_url: str, amqp_url: str, **overrides: Any) -> GatewaySettings:
    return GatewaySettings(
        database_url=database_url,
        amqp_url=amqp_url,
        jwt_secret=JWT_SECRET,
        http_port=0,
        notification_keepalive_seconds=KEEPALIVE_SECONDS,
        **overrides,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(database_url: str, amqp_url: str, world: Any) -> AsyncIterator[Served]:
    served = await serve(settings_for(database_url, amqp_url))
    u = world.users
    await await_listening(served, u["admin"], u["viewer"], world.tickets["support_1"].id)
    yield served
    await served.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def short_ttl_replica(database_url: str, amqp_url: str, world: Any) -> AsyncIterator[Served]:
    """A second replica whose presence lapses after SHORT_TTL_SECONDS."""
    served = await serve(
        settings_for(database_url, amqp_url, ticket_presence_ttl_seconds=SHORT_TTL_SECONDS)
    )
    u = world.users
    await await_listening(served, u["admin"], u["viewer"], world.tickets["support_2"].id)
    yield served
    await served.stop()


def events_of(client: httpx.AsyncClient, ticket_id: uuid.UUID, user: User) -> Any:
    return client.stream("GET", f"/tickets/{ticket_id}/events", headers=bearer(user))


class TestPresence:
    async def test_another_users_replying_arrives_and_goes_on_left(
        self, gateway: Served, world: Any
    ) -> None:
        """B's stream starts with nobody there, shows A replying (by name) once A says so,
        and nobody again after A leaves."""
        a, b, ticket = world.users["primary"], world.users["backup"], world.tickets["support_1"]
        async with http(gateway) as client, events_of(client, ticket.id, b) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = Stream(response)
            first = await stream.next()
            assert first.body == {"ticket_id": str(ticket.id), "users": []}
            assert (await say(gateway, a, ticket.id, "replying")).status_code == 204
            arrived = await stream.next()
            assert arrived.body["users"] == [
                {"user_id": str(a.id), "name": a.full_name, "state": "replying"}
            ]
            assert (await say(gateway, a, ticket.id, "left")).status_code == 204
            assert (await stream.next()).present == []

    async def test_the_caller_never_sees_themself(self, gateway: Served, world: Any) -> None:
        """A's own viewing changes nothing on A's stream; B's viewing then shows B alone."""
        a, b, ticket = world.users["primary"], world.users["backup"], world.tickets["support_1"]
        async with http(gateway) as client, events_of(client, ticket.id, a) as response:
            stream = Stream(response)
            assert (await stream.next()).present == []
            assert (await say(gateway, a, ticket.id, "viewing")).status_code == 204
            assert (await say(gateway, b, ticket.id, "viewing")).status_code == 204
            assert (await stream.next()).present == [(str(b.id), "viewing")]
            assert (await say(gateway, b, ticket.id, "left")).status_code == 204
            assert (await stream.next()).present == []
        assert (await say(gateway, a, ticket.id, "left")).status_code == 204

    async def test_presence_lapses_without_a_heartbeat_and_crosses_replicas(
        self, gateway: Served, short_ttl_replica: Served, world: Any
    ) -> None:
        """A says it on one replica; B's stream on another replica shows it, and shows it
        gone once the TTL passes without a repeat."""
        a, b, ticket = world.users["primary"], world.users["backup"], world.tickets["support_2"]
        async with (
            http(short_ttl_replica) as client,
            events_of(client, ticket.id, b) as response,
        ):
            stream = Stream(response)
            assert (await stream.next()).present == []
            assert (await say(gateway, a, ticket.id, "replying")).status_code == 204
            assert (await stream.next()).present == [(str(a.id), "replying")]
            assert (await stream.next()).present == []  # nobody said "left": it lapsed
        assert (await say(gateway, a, ticket.id, "left")).status_code == 204  # for the others

    async def test_a_state_it_does_not_know_is_a_400(self, gateway: Served, world: Any) -> None:
        ticket = world.tickets["support_1"]
        response = await say(gateway, world.users["primary"], ticket.id, "dancing")
        assert response.status_code == 400


class TestTicketEvents:
    async def test_a_change_by_another_user_reaches_the_stream(
        self, gateway: Served, world: Any
    ) -> None:
        """A's PATCH of the watched ticket reaches B as a `ticket` event; A's change of
        another ticket does not; a note on it does too."""
        a, b = world.users["primary"], world.users["backup"]
        watched, other = world.tickets["support_2"], world.tickets["support_1"]
        async with (
            http(gateway) as client,
            events_of(client, watched.id, b) as response,
        ):
            stream = Stream(response)
            assert (await stream.next()).event == "presence"
            other_patch = await client.patch(
                f"/tickets/{other.id}", json={"priority": "low"}, headers=bearer(a)
            )
            assert other_patch.status_code == 200
            patched = await client.patch(
                f"/tickets/{watched.id}", json={"priority": "high"}, headers=bearer(a)
            )
            assert patched.status_code == 200
            event = await stream.next()
            assert event.event == "ticket"
            assert event.body == {"ticket_id": str(watched.id), "changes": ["updated"]}
            noted = await client.post(
                f"/tickets/{watched.id}/notes", json={"body": "on it"}, headers=bearer(a)
            )
            assert noted.status_code == 201
            assert (await stream.next()).body["changes"] == ["note_added"]

    async def test_another_services_notice_reaches_the_stream(
        self, gateway: Served, world: Any, database_url: str
    ) -> None:
        """The router's notice (new mail on the ticket), sent from another connection,
        reaches the ticket's stream as a `ticket` event."""
        b, watched = world.users["backup"], world.tickets["support_2"]
        notice = TicketChangeNotice(
            tenant_id=watched.tenant_id, ticket_id=watched.id, change="message_added"
        )
        async with (
            http(gateway) as client,
            events_of(client, watched.id, b) as response,
        ):
            stream = Stream(response)
            assert (await stream.next()).event == "presence"
            connection = await asyncpg.connect(asyncpg_dsn(database_url))
            try:
                await connection.execute(
                    "SELECT pg_notify($1, $2)", TICKET_EVENTS_CHANNEL, notice.model_dump_json()
                )
            finally:
                await connection.close()
            event = await stream.next()
            assert event.body == {"ticket_id": str(watched.id), "changes": ["message_added"]}


class TestAccess:
    async def test_who_cannot_see_the_ticket_gets_404_on_both(
        self, gateway: Served, world: Any
    ) -> None:
        """An unassigned member, another mailbox's ticket, another tenant's admin with our
        ids and we with theirs: 404 for presence and for the stream, never the data."""
        u, t = world.users, world.tickets
        refused = [
            (u["unassigned"], t["support_1"]),
            (u["primary"], t["sales_1"]),
            (u["admin_b"], t["support_1"]),
            (u["admin"], t["b_1"]),
            (u["primary"], t["b_1"]),
        ]
        async with http(gateway) as client:
            for user, ticket in refused:
                said = await say(gateway, user, ticket.id, "viewing")
                assert said.status_code == 404, (user.email, ticket.number)
                streamed = await client.get(f"/tickets/{ticket.id}/events", headers=bearer(user))
                assert streamed.status_code == 404, (user.email, ticket.number)
                assert streamed.headers["content-type"].startswith("application/problem+json")
            missing = await client.get(
                f"/tickets/{uuid.uuid4()}/events", headers=bearer(u["admin"])
            )
            assert missing.status_code == 404

    async def test_a_viewer_may_be_present_and_the_token_may_be_a_query_parameter(
        self, gateway: Served, world: Any
    ) -> None:
        """A read-only viewer can see the ticket, so may say so; EventSource clients pass
        ?access_token= to the stream (not to presence); no token is a 401."""
        viewer, ticket = world.users["viewer"], world.tickets["support_1"]
        assert (await say(gateway, viewer, ticket.id, "left")).status_code == 204
        token = bearer(viewer)["Authorization"].removeprefix("Bearer ")
        async with http(gateway) as client:
            async with client.stream(
                "GET", f"/tickets/{ticket.id}/events", params={"access_token": token}
            ) as response:
                assert response.status_code == 200
                assert (await Stream(response).next()).event == "presence"
            by_query = await client.post(
                f"/tickets/{ticket.id}/presence",
                json={"state": "viewing"},
                params={"access_token": token},
            )
            assert by_query.status_code == 401
            assert (await client.get(f"/tickets/{ticket.id}/events")).status_code == 401
