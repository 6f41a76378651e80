"""Schemas of the gateway's SMTP settings API: the server a tenant's mail goes out through
(the tenant default) and per-mailbox overrides. API models only, like `api`.

The password is write-only: an answer says only whether one is stored (`has_password`).
The rules of a valid server (host, port, security, timeout) are `postdesk_smtp.settings`',
applied by the gateway (422 with the reason); here only the shape and line breaks.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final, Literal

from pydantic import Field

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import ApiModel
from postdesk_contracts.api_admin import HeaderText

SmtpSecurity = Literal["tls", "starttls", "none"]
_FORBID: Final = ApiModel.model_config | {"extra": "forbid"}


class SmtpServerChange(ApiModel):
    """Create or change one SMTP server; omitted fields stay as they are (on a new server:
    their defaults). A first save needs `host`. `port` left out on a new server, or when
    `security` changes, is the security's default (tls 465, starttls 587, none 25).
    `password` is write-only: omitted keeps the stored one, "" clears it."""

    model_config = _FORBID | ex.example_config(
        {
            "host": "smtp.acme.example",
            "port": 587,
            "security": "starttls",
            "username": "support@acme.example",
            "password": "correct horse battery staple",
            "from_domain": "acme.example",
            "timeout_seconds": 30,
            "is_active": True,
        }
    )

    host: HeaderText | None = Field(default=None, min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: SmtpSecurity | None = None
    username: HeaderText | None = Field(default=None, max_length=1024, description="'' = no login")
    password: HeaderText | None = Field(
        default=None, max_length=1024, description="write-only; omitted keeps, '' clears"
    )
    from_domain: HeaderText | None = Field(
        default=None, max_length=253, description="domain of Message-IDs and EHLO; '' = account's"
    )
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)
    is_active: bool | None = None


class SmtpServerView(ApiModel):
    """One SMTP server: the tenant default (`account_id` null) or a mailbox's override.
    Never the password, only whether one is stored."""

    model_config = ex.example_config(
        {
            "account_id": ex.SUPPORT_ACCOUNT_ID,
            "account_address": "support@acme.example",
            "host": "smtp.acme.example",
            "port": 587,
            "security": "starttls",
            "username": "support@acme.example",
            "has_password": True,
            "from_domain": "acme.example",
            "timeout_seconds": 30.0,
            "is_active": True,
            "last_test_at": ex.REPLIED_AT,
            "last_test_result": "ok: connected to smtp.acme.example:587 with STARTTLS",
        }
    )

    account_id: uuid.UUID | None = Field(default=None, description="null for the tenant default")
    account_address: str | None = Field(default=None, description="the override's mailbox")
    host: str
    port: int
    security: SmtpSecurity
    username: str
    has_password: bool
    from_domain: str
    timeout_seconds: float
    is_active: bool
    last_test_at: datetime | None = Field(default=None, description="null: never tested")
    last_test_result: str = ""


class SmtpSettingsView(ApiModel):
    """The tenant's SMTP settings: mail of a mailbox goes through its active override, else
    the active default, else nowhere (it fails as unconfigured)."""

    model_config = ex.example_config(
        {
            "default": ex.example_of(SmtpServerView)
            | {"account_id": None, "account_address": None, "username": "postdesk"},
            "overrides": [ex.example_of(SmtpServerView)],
        }
    )

    default: SmtpServerView | None = Field(default=None, description="null: none stored")
    overrides: list[SmtpServerView] = Field(description="by mailbox address")


__all__ = ["SmtpSecurity", "SmtpServerChange", "SmtpServerView", "SmtpSettingsView"]
