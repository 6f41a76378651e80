"""Forged, altered, stale and replayed tokens against the real gateway: every one a 401.

Each forgery starts from a genuine access token the login endpoint issued (and that the
gateway accepts, checked first), so a 401 is the gateway refusing the attack, not a token
that was never valid. Every forged token is tried on two routes: `/me` and `/tickets`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from postdesk_gateway.auth import signing_key
from postdesk_schema import TenantRole, User
from postdesk_testing.gateway_login import PASSWORD, bearer, session_of

from tests.security.gateway_api import JWT_SECRET, NEW_PASSWORD, me_status, refresh_status
from tests.security.users import UserFactory

pytestmark = pytest.mark.integration

PROTECTED_ROUTES = ("/me", "/tickets")
GATEWAY_KEY = signing_key(JWT_SECRET)


@dataclass(frozen=True)
class Genuine:
    """A token the gateway issued and accepts, its claims, and another user to pose as."""

    token: str
    claims: dict[str, Any]
    admin: User


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def with_old_signature(token: str, **changes: Any) -> str:
    """`token` with claims changed in its payload and its original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload)) | changes
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def unsigned(claims: dict[str, Any], alg: str) -> str:
    """A token whose header names `alg` (a spelling of "none") and that has no signature."""
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def signed(claims: dict[str, Any], key: bytes | str = GATEWAY_KEY, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def hs512(claims: dict[str, Any]) -> str:
    """Signed with the gateway's key, but HS512 (PyJWT itself refuses a key this short for
    HS512, so the token is put together by hand)."""
    signing_input = b64(json.dumps({"alg": "HS512", "typ": "JWT"}).encode()) + "."
    signing_input += b64(json.dumps(claims).encode())
    mac = hmac.new(GATEWAY_KEY, signing_input.encode(), hashlib.sha512).digest()
    return f"{signing_input}.{b64(mac)}"


def expired(claims: dict[str, Any]) -> dict[str, Any]:
    past = datetime.now(UTC) - timedelta(hours=1)
    return claims | {"iat": past.timestamp(), "exp": (past + timedelta(minutes=15)).timestamp()}


FORGERIES: dict[str, Callable[[Genuine], str]] = {
    "alg none": lambda g: unsigned(g.claims, "none"),
    "alg None": lambda g: unsigned(g.claims, "None"),
    "alg NONE": lambda g: unsigned(g.claims, "NONE"),
    "alg none with the real signature": lambda g: (
        unsigned(g.claims, "none") + g.token.rsplit(".", 1)[1]
    ),
    "signature stripped": lambda g: g.token.rsplit(".", 1)[0] + ".",
    "another key": lambda g: signed(g.claims, key=b"not the gateway's key, 32+ bytes long"),
    "the bare JWT_SECRET as key": lambda g: signed(g.claims, key=JWT_SECRET),
    "HS512 with the gateway's key": lambda g: hs512(g.claims),
    "another audience": lambda g: signed(g.claims | {"aud": "postdesk-webhooks"}),
    "a list of audiences without ours": lambda g: signed(g.claims | {"aud": ["other", "x"]}),
    "another issuer": lambda g: signed(g.claims | {"iss": "https://idp.attacker.test"}),
    "expired": lambda g: signed(expired(g.claims)),
    "expiry extended, old signature": lambda g: with_old_signature(
        g.token, exp=(datetime.now(UTC) + timedelta(days=365)).timestamp()
    ),
    "tenant id edited, old signature": lambda g: with_old_signature(g.token, tid=str(uuid.uuid4())),
    "user id of the admin, old signature": lambda g: with_old_signature(
        g.token, sub=str(g.admin.id)
    ),
    "role claim added, old signature": lambda g: with_old_signature(g.token, role="admin"),
    "header alg edited, old signature": lambda g: (
        b64(json.dumps({"alg": "HS384", "typ": "JWT"}).encode()) + "." + g.token.split(".", 1)[1]
    ),
    "signed, naming another tenant": lambda g: signed(g.claims | {"tid": str(uuid.uuid4())}),
    "signed, naming no user that exists": lambda g: signed(g.claims | {"sub": str(uuid.uuid4())}),
}


@pytest_asyncio.fixture(loop_scope="session")
async def genuine(client: httpx.AsyncClient, new_user: UserFactory) -> Genuine:
    """A member's access token, accepted on every route of `PROTECTED_ROUTES`."""
    member, admin = await new_user(), await new_user(role=TenantRole.ADMIN)
    token = (await session_of(client, member.email))["access_token"]
    for route in PROTECTED_ROUTES:
        assert (await client.get(route, headers=bearer(token))).status_code == 200
    claims = jwt.decode(token, options={"verify_signature": False})
    return Genuine(token=token, claims=claims, admin=admin)


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_forged_access_token_is_401(
    client: httpx.AsyncClient, genuine: Genuine, forge: Callable[[Genuine], str]
) -> None:
    """The forged or altered token is refused with a 401 bearer challenge on every route."""
    forged = forge(genuine)
    assert forged != genuine.token
    for route in PROTECTED_ROUTES:
        response = await client.get(route, headers=bearer(forged))
        assert response.status_code == 401, (route, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_token_of_a_deactivated_user_is_401_and_stays_dead(
    client: httpx.AsyncClient, new_user: UserFactory
) -> None:
    """Deactivating a user refuses their access and refresh tokens at once; reactivating
    them does not bring the sessions opened before the deactivation back."""
    member, admin = await new_user(), await new_user(role=TenantRole.ADMIN)
    pair = await session_of(client, member.email)
    admin_token = (await session_of(client, admin.email))["access_token"]
    deactivated = await client.post(
        f"/admin/users/{member.id}/deactivate", headers=bearer(admin_token)
    )
    assert deactivated.status_code == 200, deactivated.text
    assert await me_status(client, pair["access_token"]) == 401
    reactivated = await client.patch(
        f"/admin/users/{member.id}", json={"is_active": True}, headers=bearer(admin_token)
    )
    assert reactivated.status_code == 200, reactivated.text
    assert await refresh_status(client, pair["refresh_token"]) == 401
    assert await me_status(client, (await session_of(client, member.email))["access_token"]) == 200


async def test_deactivation_through_update_ends_the_refresh_tokens(
    client: httpx.AsyncClient, new_user: UserFactory
) -> None:
    """PATCH is_active=false ends the user's sessions like the deactivate route does."""
    member, admin = await new_user(), await new_user(role=TenantRole.ADMIN)
    pair = await session_of(client, member.email)
    admin_token = (await session_of(client, admin.email))["access_token"]
    for active in (False, True):
        changed = await client.patch(
            f"/admin/users/{member.id}", json={"is_active": active}, headers=bearer(admin_token)
        )
        assert changed.status_code == 200, changed.text
    assert await refresh_status(client, pair["refresh_token"]) == 401


async def test_tokens_from_before_a_password_change_are_401(
    client: httpx.AsyncClient, new_user: UserFactory
) -> None:
    """Changing the password refuses every access and refresh token issued before it, of
    this session and of the user's other sessions; the pair answered by the change works."""
    member = await new_user()
    this, other = await session_of(client, member.email), await session_of(client, member.email)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = await client.post("/me/password", json=change, headers=bearer(this["access_token"]))
    assert response.status_code == 200, response.text
    for old in (this, other):
        assert await me_status(client, old["access_token"]) == 401
        assert await refresh_status(client, old["refresh_token"]) == 401
    assert await me_status(client, response.json()["access_token"]) == 200


async def test_tokens_from_before_an_admin_password_reset_are_401(
    client: httpx.AsyncClient, new_user: UserFactory
) -> None:
    """An admin resetting a (compromised) user's password ends the sessions opened before."""
    member, admin = await new_user(), await new_user(role=TenantRole.ADMIN)
    pair = await session_of(client, member.email)
    admin_token = (await session_of(client, admin.email))["access_token"]
    reset = await client.post(
        f"/admin/users/{member.id}/password", json={}, headers=bearer(admin_token)
    )
    assert reset.status_code == 200, reset.text
    assert await me_status(client, pair["access_token"]) == 401
    assert await refresh_status(client, pair["refresh_token"]) == 401


async def test_refresh_token_reused_after_rotation_is_401_and_ends_the_session(
    client: httpx.AsyncClient, new_user: UserFactory
) -> None:
    """A rotated refresh token presented again is refused, and so is its successor (the
    thief and the victim both lose the session); a refresh token after logout is refused."""
    member = await new_user()
    stolen = (await session_of(client, member.email))["refresh_token"]
    rotated = await client.post("/auth/refresh", json={"refresh_token": stolen})
    assert rotated.status_code == 200, rotated.text
    assert await refresh_status(client, stolen) == 401
    assert await refresh_status(client, rotated.json()["refresh_token"]) == 401
    logged_out = (await session_of(client, member.email))["refresh_token"]
    logout = await client.post("/auth/logout", json={"refresh_token": logged_out})
    assert logout.status_code == 204
    assert await refresh_status(client, logged_out) == 401


async def test_token_kinds_are_not_interchangeable(
    client: httpx.AsyncClient, new_user: UserFactory
) -> None:
    """A refresh token is no bearer token (401), and an access token no refresh token
    (refused: 400, longer than any refresh token, or 401)."""
    pair = await session_of(client, (await new_user()).email)
    assert await me_status(client, pair["refresh_token"]) == 401
    assert await refresh_status(client, pair["access_token"]) in {400, 401}
    assert await me_status(client, pair["access_token"]) == 200
