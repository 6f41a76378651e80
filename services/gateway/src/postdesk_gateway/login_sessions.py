"""Login sessions: login with lockout and throttling, refresh rotation, logout, password change.

A session is a short-lived access token (JWT) and a refresh token. Each refresh token works
once; its successor belongs to the same family. Presenting a used or revoked token again
revokes the family, so a stolen token and the session it was stolen from both end.

Every login failure answers the same 401 (unknown login, wrong password, locked account,
inactive user), after the same argon2 work; only the per-address throttle answers 429, which
says nothing about any account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from postdesk_contracts.api_access import SessionTokens
from postdesk_schema import RefreshToken, User
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, tokens_db
from postdesk_gateway.access import (
    LoginPolicy,
    LoginThrottle,
    hash_token,
    is_locked,
    new_refresh_token,
    weak_password_reason,
)
from postdesk_gateway.auth import Passwords, TokenService
from postdesk_gateway.domain import (
    AuthenticationError,
    CurrentUser,
    ForbiddenError,
    QuotaExceededError,
    UnprocessableError,
)

log = structlog.get_logger(__name__)
_LOGIN_FAILED = "invalid email or password"
_REFRESH_FAILED = "invalid or expired refresh token"


@dataclass(frozen=True)
class Client:
    """Where a request comes from, as recorded with a session and in the audit log."""

    ip: str
    user_agent: str


async def login(
    session: AsyncSession,
    passwords: Passwords,
    tokens: TokenService,
    policy: LoginPolicy,
    throttle: LoginThrottle,
    credentials: tuple[str, str],
    client: Client,
    now: datetime,
) -> SessionTokens:
    """A new session for an active, unlocked user's right password; one 401 otherwise."""
    wait = throttle.retry_after(client.ip, now)
    if wait is not None:
        raise QuotaExceededError("too many failed logins from your address", retry_after=wait)
    email, password = credentials
    user = await db.find_login_user(session, email)
    ok = await passwords.verify(user.password_hash if user else None, password)
    locked = user is not None and is_locked(user.locked_until, now)
    if user is None or locked or not ok:
        throttle.record_failure(client.ip, now)
        reason = "no such active user" if user is None else "locked" if locked else "bad password"
        log.info("login failed", reason=reason)
        if user is not None and not locked:
            await _count_failure(session, user, policy, client, now)
        raise AuthenticationError(_LOGIN_FAILED)
    if user.failed_login_count or user.locked_until is not None:
        await tokens_db.clear_login_failures(session, user.id)
    if passwords.needs_rehash(user.password_hash):
        await db.set_password_hash(session, user.id, await passwords.hash(password))
    pair = issue_session(session, tokens, policy, user.id, user.tenant_id, client, now)
    await session.commit()
    log.info("login", user_id=str(user.id))
    return pair


async def _count_failure(
    session: AsyncSession, user: User, policy: LoginPolicy, client: Client, now: datetime
) -> None:
    if await tokens_db.add_login_failure(session, user.id) >= policy.max_failures:
        until = now + policy.lockout
        await tokens_db.lock_user(session, user.id, until)
        actor = await db.load_active_user(session, user.id, user.tenant_id)
        if actor is not None:
            db.audit(
                session,
                actor,
                action="user.locked",
                object_type="user",
                object_id=user.id,
                ip=client.ip,
                detail={"failures": policy.max_failures, "locked_until": until.isoformat()},
            )
        log.warning("account locked", user_id=str(user.id))
    await session.commit()


def issue_session(
    session: AsyncSession,
    tokens: TokenService,
    policy: LoginPolicy,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    client: Client,
    now: datetime,
    *,
    family_id: uuid.UUID | None = None,
) -> SessionTokens:
    """A new token pair (in `family_id`, or a new family); the caller commits."""
    refresh = new_refresh_token()
    session.add(
        RefreshToken(
            tenant_id=tenant_id,
            user_id=user_id,
            family_id=family_id or uuid.uuid4(),
            token_hash=hash_token(refresh),
            issued_at=now,
            expires_at=now + policy.refresh_lifetime,
            ip=client.ip,
            user_agent=client.user_agent,
        )
    )
    return SessionTokens(
        access_token=tokens.issue(user_id, tenant_id, now=now),
        expires_in=int(tokens.lifetime.total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=int(policy.refresh_lifetime.total_seconds()),
    )


async def refresh(
    session: AsyncSession,
    tokens: TokenService,
    policy: LoginPolicy,
    refresh_token: str,
    client: Client,
    now: datetime,
) -> SessionTokens:
    """The successor pair of a usable refresh token. A used or revoked one revokes its whole
    family (replay); every failure is the same 401."""
    row = await tokens_db.refresh_token_for_update(session, hash_token(refresh_token))
    if row is None:
        raise AuthenticationError(_REFRESH_FAILED)
    user = await db.load_active_user(session, row.user_id, row.tenant_id)
    if row.used_at is not None or row.revoked_at is not None or user is None:
        if user is not None and row.revoked_at is None:
            db.audit(
                session,
                user,
                action="refresh_token.replayed",
                object_type="session",
                object_id=row.family_id,
                ip=client.ip,
            )
            log.warning("refresh token replayed", user_id=str(user.id))
        await tokens_db.revoke_family(session, row.family_id, now)
        await session.commit()
        raise AuthenticationError(_REFRESH_FAILED)
    if row.expires_at <= now:
        raise AuthenticationError(_REFRESH_FAILED)
    row.used_at = now
    pair = issue_session(
        session, tokens, policy, user.id, user.tenant_id, client, now, family_id=row.family_id
    )
    await session.commit()
    return pair


async def logout(session: AsyncSession, refresh_token: str, now: datetime) -> None:
    """End the session of this refresh token; an unknown token changes nothing."""
    await tokens_db.revoke_family_of(session, hash_token(refresh_token), now)
    await session.commit()


async def change_password(
    session: AsyncSession,
    passwords: Passwords,
    tokens: TokenService,
    policy: LoginPolicy,
    user: CurrentUser,
    passwords_given: tuple[str, str],
    client: Client,
    now: datetime,
) -> SessionTokens:
    """Set a new password and end every session of the user (refresh tokens revoked, access
    tokens issued before now refused); answer a new session for the caller."""
    current, new = passwords_given
    row = await tokens_db.user_row(session, user.id)
    if row is None or not await passwords.verify(row.password_hash, current):
        raise ForbiddenError("the current password does not match")
    reason = weak_password_reason(new, current=current, login=user.email)
    if reason is not None:
        raise UnprocessableError(reason)
    row.password_hash = await passwords.hash(new)
    row.password_changed_at = now
    await tokens_db.revoke_user_refresh_tokens(session, user.id, now)
    db.audit(
        session,
        user,
        action="user.password_changed",
        object_type="user",
        object_id=user.id,
        ip=client.ip,
    )
    pair = issue_session(session, tokens, policy, user.id, user.tenant_id, client, now)
    await session.commit()
    return pair
