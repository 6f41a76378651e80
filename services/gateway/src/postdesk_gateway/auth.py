"""Access tokens, password verification and the authentication middleware.

Tokens are HS256 JWTs with `iss` (`ISSUER`), `aud` (`AUDIENCE`), `sub` (user id),
`tid` (tenant id), `iat`, `exp` and `jti`, every one required; `iat` and `exp` keep
microseconds, so a token issued right after a password change is told apart from one
issued before it. Issuer and audience bind a token to this use: a token the same key signs
for anything else is refused here. The HMAC key (`signing_key`) is SHA-256 of a
domain-separation prefix and `JWT_SECRET`: a full-length key even for the short development
secret (production refuses secrets under 32 bytes, see settings), so a token can only be
verified by the gateway, which is the only service that needs to.

Every request passes `BearerAuthMiddleware` unless its route opts out
with `opt={"exclude_from_auth": True}` (`PUBLIC`). It loads the *active*
user on each request: deactivating a user locks them out at once,
whatever tokens they hold, and changing the password refuses every access
token issued before the change.

A bearer token starting with `pdk_` is an API token (`api_tokens`): it acts
as its user, but only on the routes its scopes allow (`access.required_scope`,
checked here, in one place): 403 for a route outside its scopes, 401 when it
is revoked, expired or unknown.

A route that opts in with `TOKEN_IN_QUERY` (only the event streams:
a browser's EventSource cannot set headers) also takes the token from the
`access_token` query parameter when no Authorization header is sent. A URL
is logged more readily than a header, so it is nowhere else; the token
there is the same short-lived one.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection, Request
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp
from postdesk_runtime.db import Sessions

from postdesk_gateway import api_tokens, db
from postdesk_gateway.access import is_api_token, required_scope
from postdesk_gateway.domain import AuthenticationError, CurrentUser
from postdesk_gateway.errors import BEARER_CHALLENGE

ALGORITHM = "HS256"
PUBLIC = {"exclude_from_auth": True}
TOKEN_IN_QUERY = {"token_in_query": True}
ACCESS_TOKEN_PARAMETER = "access_token"  # noqa: S105  # a parameter's name, not a secret
_KEY_PREFIX = b"postdesk-gateway-jwt-v1:"
ISSUER = "postdesk-gateway"
AUDIENCE = "postdesk-api"
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "tid", "iat", "exp", "jti"]


def signing_key(secret: str) -> bytes:
    """The HMAC key of access tokens for the `JWT_SECRET` `secret`."""
    return hashlib.sha256(_KEY_PREFIX + secret.encode()).digest()


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    token_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime


class TokenService:
    """Issues and checks access tokens."""

    def __init__(self, secret: str, *, lifetime: timedelta) -> None:
        self._key = signing_key(secret)
        self.lifetime = lifetime

    def issue(
        self, user_id: uuid.UUID, tenant_id: uuid.UUID, *, now: datetime | None = None
    ) -> str:
        issued_at = now or datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "tid": str(tenant_id),
            "iat": issued_at.timestamp(),
            "exp": (issued_at + self.lifetime).timestamp(),
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        """The token's claims; `AuthenticationError` if forged, expired or malformed."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": _REQUIRED_CLAIMS},
            )
            return TokenClaims(
                user_id=uuid.UUID(claims["sub"]),
                tenant_id=uuid.UUID(claims["tid"]),
                token_id=uuid.UUID(claims["jti"]),
                issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise AuthenticationError("invalid or expired token") from exc


class Passwords:
    """argon2id verification, off the event loop, with equal work for unknown users."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def _verify_sync(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            # Unknown user: spend the same time as a real check, so timing reveals nothing.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("postdesk-no-such-user")
            password_hash = self._dummy_hash
            password = password + "\x00never-matches"
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True only for a known user's matching password."""
        ok = await asyncio.to_thread(self._verify_sync, password_hash, password)
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """401 unless the request carries a valid token of an active user of the token's tenant."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenService,
        sessions: Sessions,
        exclude: list[str] | None = None,
    ) -> None:
        super().__init__(app, exclude=exclude)
        self._tokens = tokens
        self._sessions = sessions

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = _presented_token(connection)
        if not token:
            raise NotAuthorizedException("missing bearer token", headers=BEARER_CHALLENGE)
        if is_api_token(token):
            return await self._authenticate_api_token(connection, token)
        try:
            claims = self._tokens.verify(token)
        except AuthenticationError as exc:
            raise NotAuthorizedException(str(exc), headers=BEARER_CHALLENGE) from exc
        async with self._sessions() as session:
            user = await db.load_active_user(
                session, claims.user_id, claims.tenant_id, token_issued_at=claims.issued_at
            )
        if user is None:
            raise NotAuthorizedException("invalid or expired token", headers=BEARER_CHALLENGE)
        return AuthenticationResult(user=user, auth=claims)

    async def _authenticate_api_token(
        self, connection: ASGIConnection[Any, Any, Any, Any], token: str
    ) -> AuthenticationResult:
        async with self._sessions() as session:
            found = await api_tokens.authenticate(session, token, datetime.now(UTC))
        if found is None:
            raise NotAuthorizedException("invalid or expired token", headers=BEARER_CHALLENGE)
        user, grant = found
        scope = required_scope(
            str(connection.scope.get("method", "GET")),  # a websocket has no method
            connection.scope["path"],
            connection.route_handler.opt,
        )
        if scope is None or scope not in grant.scopes:
            needed = f"the scope {scope}" if scope else "a login session"
            raise PermissionDeniedException(f"this API token lacks {needed} for this route")
        return AuthenticationResult(user=user, auth=grant)


def _presented_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The bearer token of the Authorization header; on a `TOKEN_IN_QUERY` route without
    that header, the `access_token` query parameter. Empty when there is none."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    if connection.route_handler.opt.get("token_in_query"):
        return connection.query_params.get(ACCESS_TOKEN_PARAMETER, "").strip()
    return ""


async def provide_user(request: Request[CurrentUser, TokenClaims, State]) -> CurrentUser:
    """The user `BearerAuthMiddleware` authenticated."""
    return request.user
