"""API tokens for other systems: the admin use cases, and turning a presented token into the
user it acts as.

A token acts as one active user of its tenant (it sees what they see), limited to its
scopes; which scope a route needs is `access.required_scope`, checked by the auth middleware.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from postdesk_contracts.api_access import ApiTokenCreate, ApiTokenCreated, ApiTokenView
from postdesk_schema import ApiToken
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, tokens_db
from postdesk_gateway.access import API_TOKEN_SHOWN_CHARS, hash_token, new_api_token
from postdesk_gateway.admin_common import require_admin
from postdesk_gateway.domain import (
    CurrentUser,
    InvalidRequestError,
    NotFoundError,
    UnprocessableError,
)

# A stream opened with an API token ends after this and reconnects, as one opened with an
# access token ends when that expires.
API_TOKEN_STREAM_LIMIT = timedelta(hours=1)


@dataclass(frozen=True)
class ApiTokenGrant:
    """What a request authenticated with an API token may do (`request.auth`)."""

    token_id: uuid.UUID
    scopes: frozenset[str]
    expires_at: datetime


async def authenticate(
    session: AsyncSession, token: str, now: datetime
) -> tuple[CurrentUser, ApiTokenGrant] | None:
    """The user an unrevoked, unexpired token acts as, if still active; None otherwise."""
    row = await tokens_db.usable_api_token(session, hash_token(token), now)
    if row is None or row.acts_as_user_id is None:
        return None
    user = await db.load_active_user(session, row.acts_as_user_id, row.tenant_id)
    if user is None:
        return None
    await tokens_db.touch_api_token(session, row.id, now)
    await session.commit()
    limit = now + API_TOKEN_STREAM_LIMIT
    grant = ApiTokenGrant(
        token_id=row.id,
        scopes=frozenset(row.scopes),
        expires_at=min(row.expires_at, limit) if row.expires_at else limit,
    )
    return user, grant


async def create(
    session: AsyncSession, user: CurrentUser, data: ApiTokenCreate, *, ip: str, now: datetime
) -> ApiTokenCreated:
    """A new token of the admin's tenant, shown this once."""
    require_admin(user, "manage API tokens")
    if data.expires_at is not None and data.expires_at <= now:
        raise InvalidRequestError("expires_at must be in the future")
    if await db.load_active_user(session, data.acts_as_user_id, user.tenant_id) is None:
        raise UnprocessableError("acts_as_user_id is not an active user of your tenant")
    token = new_api_token()
    row = ApiToken(
        tenant_id=user.tenant_id,
        name=data.name,
        prefix=token[:API_TOKEN_SHOWN_CHARS],
        token_hash=hash_token(token),
        scopes=[str(scope) for scope in dict.fromkeys(data.scopes)],
        acts_as_user_id=data.acts_as_user_id,
        created_by=user.id,
        created_at=now,
        expires_at=data.expires_at,
    )
    session.add(row)
    db.audit(
        session,
        user,
        action="api_token.created",
        object_type="api_token",
        object_id=row.id,
        ip=ip,
        detail={
            "name": row.name,
            "scopes": row.scopes,
            "acts_as_user_id": str(row.acts_as_user_id),
        },
    )
    await session.commit()
    return ApiTokenCreated(**_view(row).model_dump(), token=token)


async def list_tokens(session: AsyncSession, user: CurrentUser) -> list[ApiTokenView]:
    require_admin(user, "manage API tokens")
    return [_view(row) for row in await tokens_db.tenant_api_tokens(session, user.tenant_id)]


async def get(session: AsyncSession, user: CurrentUser, token_id: uuid.UUID) -> ApiTokenView:
    require_admin(user, "manage API tokens")
    return _view(await _visible(session, user, token_id))


async def revoke(
    session: AsyncSession, user: CurrentUser, token_id: uuid.UUID, *, ip: str, now: datetime
) -> None:
    """Revoke the token at once; revoking it again changes nothing."""
    require_admin(user, "manage API tokens")
    row = await _visible(session, user, token_id)
    if row.revoked_at is not None:
        return
    row.revoked_at = now
    db.audit(
        session, user, action="api_token.revoked", object_type="api_token", object_id=row.id, ip=ip
    )
    await session.commit()


async def _visible(session: AsyncSession, user: CurrentUser, token_id: uuid.UUID) -> ApiToken:
    row = await tokens_db.tenant_api_token(session, user.tenant_id, token_id)
    if row is None:
        raise NotFoundError("no such API token")
    return row


def _view(row: ApiToken) -> ApiTokenView:
    return ApiTokenView(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes),
        acts_as_user_id=row.acts_as_user_id,
        created_by=row.created_by,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )
