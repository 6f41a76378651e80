"""Queries of access: refresh tokens, API tokens and the login failure counters of users.

Callers commit; nothing here does.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from postdesk_schema import ApiToken, RefreshToken, User
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

LAST_USED_RESOLUTION = timedelta(minutes=1)


async def refresh_token_for_update(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    """The refresh token with this hash, locked: two refreshes with one token run in turn,
    so the second sees the first's `used_at` (a replay)."""
    return (
        await session.scalars(
            select(RefreshToken).where(col(RefreshToken.token_hash) == token_hash).with_for_update()
        )
    ).one_or_none()


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def revoke_family_of(session: AsyncSession, token_hash: str, now: datetime) -> None:
    """Revoke the family of the token with this hash; nothing when there is none."""
    family = select(col(RefreshToken.family_id)).where(col(RefreshToken.token_hash) == token_hash)
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id).in_(family), col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_refresh_tokens(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def add_login_failure(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Count one more wrong password (atomically); the failures in a row so far."""
    count = await session.scalar(
        update(User)
        .where(col(User.id) == user_id)
        .values(failed_login_count=col(User.failed_login_count) + 1)
        .returning(col(User.failed_login_count))
    )
    return int(count or 0)


async def lock_user(session: AsyncSession, user_id: uuid.UUID, until: datetime) -> None:
    """Lock until `until`; the count starts again from zero once the lock is over."""
    await session.execute(
        update(User).where(col(User.id) == user_id).values(locked_until=until, failed_login_count=0)
    )


async def clear_login_failures(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(User).where(col(User.id) == user_id).values(locked_until=None, failed_login_count=0)
    )


async def usable_api_token(
    session: AsyncSession, token_hash: str, now: datetime
) -> ApiToken | None:
    """The API token with this hash if it is neither revoked nor expired."""
    return (
        await session.scalars(
            select(ApiToken).where(
                col(ApiToken.token_hash) == token_hash,
                col(ApiToken.revoked_at).is_(None),
                or_(col(ApiToken.expires_at).is_(None), col(ApiToken.expires_at) > now),
            )
        )
    ).one_or_none()


async def touch_api_token(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> None:
    """Set `last_used_at`, at most once per `LAST_USED_RESOLUTION`: no write per request."""
    await session.execute(
        update(ApiToken)
        .where(
            col(ApiToken.id) == token_id,
            or_(
                col(ApiToken.last_used_at).is_(None),
                col(ApiToken.last_used_at) <= now - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
    )


async def tenant_api_tokens(session: AsyncSession, tenant_id: uuid.UUID) -> list[ApiToken]:
    """The tenant's API tokens, revoked ones included, newest first."""
    rows = await session.scalars(
        select(ApiToken)
        .where(col(ApiToken.tenant_id) == tenant_id)
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    )
    return list(rows)


async def tenant_api_token(
    session: AsyncSession, tenant_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken | None:
    return (
        await session.scalars(
            select(ApiToken).where(
                col(ApiToken.id) == token_id, col(ApiToken.tenant_id) == tenant_id
            )
        )
    ).one_or_none()


async def user_row(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)
