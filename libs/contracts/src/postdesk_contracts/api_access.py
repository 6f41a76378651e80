"""Schemas of the gateway's access API: login sessions (refresh, logout, password change) and
API tokens for other systems. API models only, like `api`.

A refresh token and an API token each appear in exactly one answer: the one that issues them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import Field

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import ApiModel, Timestamp, TokenResponse

MIN_PASSWORD_CHARS: Final = 12
MAX_PASSWORD_CHARS: Final = 1024
MAX_REFRESH_TOKEN_CHARS: Final = 256
MAX_API_TOKEN_NAME_CHARS: Final = 200


class ApiScope(StrEnum):
    """What an API token may do. Reads of the inbox need `tickets:read`, its writes
    `tickets:write`; the admin console `admin:read` / `admin:write`, except webhooks, which
    need `webhooks:manage`."""

    TICKETS_READ = "tickets:read"
    TICKETS_WRITE = "tickets:write"
    ADMIN_READ = "admin:read"
    ADMIN_WRITE = "admin:write"
    WEBHOOKS_MANAGE = "webhooks:manage"


class SessionTokens(TokenResponse):
    """A login session: a short-lived bearer token and the refresh token that renews it.

    Each refresh token works once: `POST /auth/refresh` answers a new pair, and presenting
    a used token again ends the whole session (it was copied)."""

    model_config = ex.example_config(
        {
            "access_token": ex.ACCESS_TOKEN,
            "token_type": "bearer",
            "expires_in": 900,
            "refresh_token": "Zr0u8dKq3vN1x7YbT2mP5sWc9hLf4gJa6eRiQ0oUyBk",
            "refresh_expires_in": 2592000,
        }
    )

    refresh_token: str
    refresh_expires_in: int = Field(description="seconds until the refresh token expires")


class RefreshRequest(ApiModel):
    """The refresh token of a session; never echoed back, not even in validation errors."""

    model_config = (
        ApiModel.model_config
        | {"hide_input_in_errors": True}
        | ex.example_config({"refresh_token": "Zr0u8dKq3vN1x7YbT2mP5sWc9hLf4gJa6eRiQ0oUyBk"})
    )

    refresh_token: str = Field(min_length=1, max_length=MAX_REFRESH_TOKEN_CHARS)


class PasswordChange(ApiModel):
    """The current password and a new one (at least 12 characters, not the current one, not
    the login's name part); never echoed back."""

    model_config = (
        ApiModel.model_config
        | {"hide_input_in_errors": True}
        | ex.example_config(
            {
                "current_password": "correct horse battery staple",
                "new_password": "purple-otter-harbour-42",
            }
        )
    )

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)
    new_password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)


class ApiTokenCreate(ApiModel):
    """A token for another system. It acts as `acts_as_user_id` (an active user of the
    tenant: it sees what they see), limited to `scopes`; `expires_at`, when given, must be
    in the future."""

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config(
            {
                "name": "CRM sync",
                "scopes": ["tickets:read", "tickets:write"],
                "acts_as_user_id": ex.COLLEAGUE_ID,
                "expires_at": "2030-12-31T23:59:59Z",
            }
        )
    )

    name: str = Field(min_length=1, max_length=MAX_API_TOKEN_NAME_CHARS)
    scopes: list[ApiScope] = Field(min_length=1, max_length=len(ApiScope))
    acts_as_user_id: uuid.UUID
    expires_at: Timestamp | None = None


class ApiTokenView(ApiModel):
    """An API token as admins see it: never the token, only its first characters."""

    model_config = ex.example_config(
        {
            "id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            "name": "CRM sync",
            "prefix": "pdk_3Fq9xK2m",
            "scopes": ["tickets:read", "tickets:write"],
            "acts_as_user_id": ex.COLLEAGUE_ID,
            "created_by": ex.ADMIN_ID,
            "created_at": "2026-11-03T11:00:00Z",
            "last_used_at": "2026-11-25T14:07:00Z",
            "expires_at": "2030-12-31T23:59:59Z",
            "revoked_at": None,
        }
    )

    id: uuid.UUID
    name: str
    prefix: str = Field(description="the token's first characters, to recognise it")
    scopes: list[str]
    acts_as_user_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="to the minute")
    expires_at: datetime | None
    revoked_at: datetime | None = Field(
        default=None, description="when it was revoked; null while it works"
    )


class ApiTokenCreated(ApiTokenView):
    """The new token, shown this once: send it as `Authorization: Bearer pdk_...`."""

    model_config = ex.example_config(
        ex.example_of(ApiTokenView) | {"token": "pdk_3Fq9xK2mVb7LwR4tN8cY1hJ6sD0gE5uAqZ"}
    )

    token: str
