"""A tenant's sending policy: `tenants.settings["outbound"]`, validated, with defaults.

Shared by the outbound service (which enforces it) and the gateway (which
refuses a request over quota up front with a clear error); it lives in the
contracts because services never import each other (ADR 1). No I/O.

Quota windows are rolling and count the messages sent (`outbound_messages`
with status sent, by `sent_at`): "per day" is the last 24 hours (`DAY`),
"per minute" the last 60 seconds (`MINUTE`); a window is full while its
limit-th most recent send is inside it, and frees when that send leaves it.
A limit of 0 means no limit.

    {"reply_to": "token", "subject_tag": true, "undo_seconds": 10,
     "max_attempts": 8,
     "quota": {"per_user_per_day": 500, "per_account_per_day": 2000,
               "per_tenant_per_minute": 120}}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DAY = timedelta(hours=24)
MINUTE = timedelta(seconds=60)


class Quota(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    per_user_per_day: int = Field(default=500, ge=0, description="0: no limit")
    per_account_per_day: int = Field(default=2000, ge=0, description="0: no limit")
    per_tenant_per_minute: int = Field(default=120, ge=0, description="0: no limit")


class OutboundPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reply_to: Literal["account", "token"] = Field(
        default="token", description="Reply-To: the account's address or its reply-token form"
    )
    subject_tag: bool = Field(default=True, description="put [#number] into the subject")
    undo_seconds: int = Field(default=10, ge=0, le=300, description="undo window before sending")
    max_attempts: int = Field(default=8, ge=1, le=50)
    quota: Quota = Field(default_factory=Quota)


class PolicyError(ValueError):
    """A tenant's outbound settings that cannot be used; the message says which."""


def usable_policy(tenant_settings: Mapping[str, Any] | None) -> tuple[OutboundPolicy, str]:
    """The tenant's sending policy, or the defaults and why when its settings are unusable.

    A bad setting never stops mail: the defaults apply and the caller logs the reason.
    """
    try:
        return outbound_policy(tenant_settings), ""
    except PolicyError as error:
        return OutboundPolicy(), str(error)


def outbound_policy(tenant_settings: Mapping[str, Any] | None) -> OutboundPolicy:
    """The policy in a tenant's settings, defaults for what it leaves out."""
    raw = (tenant_settings or {}).get("outbound") or {}
    try:
        return OutboundPolicy.model_validate(raw)
    except ValidationError as error:
        raise PolicyError(f"bad outbound settings: {error}") from error
