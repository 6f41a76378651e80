"""Login sessions against the machine's PostgreSQL: refresh rotation and replay, logout,
password change, inactive users, account lockout, the per-address throttle and CORS.

Each test makes its own user (`fresh_user`) and, where failures count, logs in from its own
client address (`client_at`), so no test's failures reach another's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from litestar import Litestar
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, User
from postdesk_testing.gateway_login import bearer, login, session_of
from sqlalchemy import update
from sqlmodel import col, select

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "purple monkey dishwasher 42"
JWT_SECRET = "test-secret-" + "x" * 32
MAX_FAILURES = 3
IP_MAX_FAILURES = 6
ALLOWED_ORIGIN = "https://app.postdesk.test"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def settings(database_url: str, amqp_url: str) -> GatewaySettings:
    """The conftest app, with a small lockout threshold and one allowed browser origin."""
    return GatewaySettings(
        database_url=database_url,
        amqp_url=amqp_url,
        jwt_secret=JWT_SECRET,
        login_max_failures=MAX_FAILURES,
        login_ip_max_failures=IP_MAX_FAILURES,
        cors_origins=[ALLOWED_ORIGIN],
    )


@pytest.fixture
def client_at(app: Litestar) -> Callable[[str], Any]:
    """`async with client_at("10.0.0.7") as http`: a client on the app from that address."""

    @asynccontextmanager
    async def make(ip: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly than httpx
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http

    return make


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_user(sessions: Sessions, world: Any) -> User:
    """A new active member of tenant A with `PASSWORD`."""
    user = User(
        tenant_id=world.tenant_a,
        email=f"access-{uuid.uuid4().hex[:10]}@example.test",
        password_hash=PasswordHasher().hash(PASSWORD),
        full_name="Access Tester",
    )
    async with sessions() as session:
        session.add(user)
        await session.commit()
    return user


async def audit_actions(sessions: Sessions, user_id: uuid.UUID) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog.action).where(col(AuditLog.object_id) == str(user_id))
        )
        return list(rows)


async def set_user(sessions: Sessions, user_id: uuid.UUID, **values: Any) -> None:
    async with sessions() as session:
        await session.execute(update(User).where(col(User.id) == user_id).values(**values))
        await session.commit()


class TestRefresh:
    async def test_login_answers_a_refresh_token_that_rotates(
        self, client: httpx.AsyncClient, fresh_user: User
    ) -> None:
        """Refreshing answers a new pair; the new access token works."""
        first = await session_of(client, fresh_user.email)
        assert first["refresh_expires_in"] == 30 * 24 * 3600
        response = await client.post(
            "/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert response.status_code == 200, response.text
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        me = await client.get("/me", headers=bearer(second["access_token"]))
        assert me.status_code == 200
        assert me.json()["email"] == fresh_user.email

    async def test_replaying_a_used_token_ends_the_whole_family(
        self, client: httpx.AsyncClient, sessions: Sessions, fresh_user: User
    ) -> None:
        """A used token again: 401, and its successor is revoked too; other sessions live."""
        stolen = (await session_of(client, fresh_user.email))["refresh_token"]
        other = (await session_of(client, fresh_user.email))["refresh_token"]
        successor = (await client.post("/auth/refresh", json={"refresh_token": stolen})).json()
        replay = await client.post("/auth/refresh", json={"refresh_token": stolen})
        assert replay.status_code == 401
        follow = {"refresh_token": successor["refresh_token"]}
        assert (await client.post("/auth/refresh", json=follow)).status_code == 401
        assert (
            await client.post("/auth/refresh", json={"refresh_token": other})
        ).status_code == 200
        async with sessions() as session:
            actions = await session.scalars(
                select(AuditLog.action).where(col(AuditLog.actor_user_id) == fresh_user.id)
            )
            assert "refresh_token.replayed" in list(actions)

    async def test_unknown_refresh_token_is_401(self, client: httpx.AsyncClient) -> None:
        """A token never issued: 401."""
        response = await client.post("/auth/refresh", json={"refresh_token": "no-such-token"})
        assert response.status_code == 401

    async def test_logout_revokes_the_session(
        self, client: httpx.AsyncClient, fresh_user: User
    ) -> None:
        """After logout neither the presented token nor its family refreshes; unknown: 204."""
        first = (await session_of(client, fresh_user.email))["refresh_token"]
        second = (await client.post("/auth/refresh", json={"refresh_token": first})).json()
        logout = await client.post("/auth/logout", json={"refresh_token": second["refresh_token"]})
        assert logout.status_code == 204
        again = {"refresh_token": second["refresh_token"]}
        assert (await client.post("/auth/refresh", json=again)).status_code == 401
        unknown = await client.post("/auth/logout", json={"refresh_token": "never-issued"})
        assert unknown.status_code == 204


class TestPasswordChange:
    async def test_change_ends_every_older_session(
        self, client: httpx.AsyncClient, sessions: Sessions, fresh_user: User
    ) -> None:
        """Old access and refresh tokens are refused; the answered pair and the new password
        work; the change is audited."""
        old = await session_of(client, fresh_user.email)
        body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        response = await client.post("/me/password", json=body, headers=bearer(old["access_token"]))
        assert response.status_code == 200, response.text
        new = response.json()
        assert (await client.get("/me", headers=bearer(old["access_token"]))).status_code == 401
        stale = {"refresh_token": old["refresh_token"]}
        assert (await client.post("/auth/refresh", json=stale)).status_code == 401
        assert (await client.get("/me", headers=bearer(new["access_token"]))).status_code == 200
        assert (await login(client, fresh_user.email)).status_code == 401
        assert (await login(client, fresh_user.email, NEW_PASSWORD)).status_code == 200
        assert "user.password_changed" in await audit_actions(sessions, fresh_user.id)

    @pytest.mark.parametrize(
        ("current", "new", "status"),
        [
            ("wrong password", NEW_PASSWORD, 403),
            (PASSWORD, PASSWORD, 422),
            (PASSWORD, "aaaaaaaaaaaaaaab", 422),
            (PASSWORD, "short", 400),
        ],
    )
    async def test_refused_changes_leave_the_password(
        self, client: httpx.AsyncClient, fresh_user: User, current: str, new: str, status: int
    ) -> None:
        """Wrong current password 403, weak or reused new one 422/400; nothing changes."""
        token = (await session_of(client, fresh_user.email))["access_token"]
        body = {"current_password": current, "new_password": new}
        response = await client.post("/me/password", json=body, headers=bearer(token))
        assert response.status_code == status, response.text
        assert PASSWORD not in response.text
        assert (await client.get("/me", headers=bearer(token))).status_code == 200


async def test_deactivated_user_is_refused(
    client: httpx.AsyncClient, sessions: Sessions, fresh_user: User
) -> None:
    """Deactivating a user refuses their access and refresh tokens and their login."""
    pair = await session_of(client, fresh_user.email)
    await set_user(sessions, fresh_user.id, is_active=False)
    assert (await client.get("/me", headers=bearer(pair["access_token"]))).status_code == 401
    stale = {"refresh_token": pair["refresh_token"]}
    assert (await client.post("/auth/refresh", json=stale)).status_code == 401
    assert (await login(client, fresh_user.email)).status_code == 401


class TestLockout:
    async def test_failures_lock_the_account_until_the_time_passes(
        self, client_at: Callable[[str], Any], sessions: Sessions, fresh_user: User
    ) -> None:
        """After MAX_FAILURES wrong passwords even the right one gets the same 401, the lock
        is audited; once locked_until has passed the right password works and the count
        starts again."""
        async with client_at("10.1.0.1") as http:
            wrong = [await login(http, fresh_user.email, "wrong") for _ in range(MAX_FAILURES)]
            locked = await login(http, fresh_user.email)
            assert {r.status_code for r in [*wrong, locked]} == {401}
            assert locked.json() == wrong[0].json()
            assert "user.locked" in await audit_actions(sessions, fresh_user.id)
            past = datetime.now(UTC) - timedelta(seconds=1)
            await set_user(sessions, fresh_user.id, locked_until=past)
            assert (await login(http, fresh_user.email)).status_code == 200
        async with sessions() as session:
            user = await session.get(User, fresh_user.id)
            assert user is not None
            assert (user.failed_login_count, user.locked_until) == (0, None)

    async def test_success_resets_the_count(
        self, client_at: Callable[[str], Any], fresh_user: User
    ) -> None:
        """Failures separated by a success never add up to a lock."""
        async with client_at("10.1.0.2") as http:
            for _ in range(2):
                for _ in range(MAX_FAILURES - 1):
                    assert (await login(http, fresh_user.email, "wrong")).status_code == 401
                assert (await login(http, fresh_user.email)).status_code == 200

    async def test_one_answer_for_unknown_wrong_and_locked(
        self, client_at: Callable[[str], Any], sessions: Sessions, fresh_user: User, world: Any
    ) -> None:
        """Unknown login, wrong password, locked account and inactive user: the same 401."""
        until = datetime.now(UTC) + timedelta(minutes=10)
        await set_user(sessions, fresh_user.id, locked_until=until)
        async with client_at("10.1.0.3") as http:
            answers = [
                await login(http, f"nobody-{uuid.uuid4().hex}@example.test"),
                await login(http, world.email("primary"), "wrong"),
                await login(http, fresh_user.email),
                await login(http, world.email("inactive")),
            ]
        assert {r.status_code for r in answers} == {401}
        assert len({r.text for r in answers}) == 1
        assert len({r.headers.get("www-authenticate") for r in answers}) == 1


async def test_address_throttle_answers_429_to_that_address_only(
    client_at: Callable[[str], Any], fresh_user: User
) -> None:
    """IP_MAX_FAILURES failures from one address: it waits (429, Retry-After); another
    address still logs in."""
    async with client_at("10.2.0.1") as http:
        for _ in range(IP_MAX_FAILURES):
            unknown = f"nobody-{uuid.uuid4().hex}@example.test"
            assert (await login(http, unknown)).status_code == 401
        throttled = await login(http, fresh_user.email)
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) > 0
    async with client_at("10.2.0.2") as http:
        assert (await login(http, fresh_user.email)).status_code == 200


class TestCors:
    async def test_preflight_from_the_allowed_origin(self, client: httpx.AsyncClient) -> None:
        """The configured origin may call with an Authorization header."""
        response = await client.options(
            "/tickets",
            headers={
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert response.status_code in (200, 204), response.text
        assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "authorization" in response.headers["access-control-allow-headers"].lower()

    async def test_preflight_from_another_origin(self, client: httpx.AsyncClient) -> None:
        """Any other origin gets no CORS grant."""
        response = await client.options(
            "/tickets",
            headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in response.headers
        assert response.status_code >= 400
