"""What becomes of an outbound request. No I/O.

The walking skeleton sends nothing: every request is recorded and answered
with mail.failed and a reason that says why. A tenant without SMTP settings
fails permanently (retrying cannot help until an admin configures a
server); a tenant with settings fails as not yet sendable, not permanent,
because a later version of this service will send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

NO_SMTP_REASON = "no outbound SMTP server configured for this tenant"
SENDING_UNAVAILABLE_REASON = "sending through the tenant's SMTP server is not implemented yet"


class OutboundStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    """The recorded result of one request."""

    status: OutboundStatus
    failure_reason: str
    permanent: bool


def smtp_configured(tenant_settings: Mapping[str, Any]) -> bool:
    """True when the tenant's settings name an SMTP server (`settings["smtp"]["host"]`)."""
    smtp = tenant_settings.get("smtp")
    return isinstance(smtp, Mapping) and bool(str(smtp.get("host") or "").strip())


def decide_delivery(tenant_settings: Mapping[str, Any]) -> Delivery:
    if not smtp_configured(tenant_settings):
        return Delivery(OutboundStatus.FAILED, NO_SMTP_REASON, permanent=True)
    return Delivery(OutboundStatus.FAILED, SENDING_UNAVAILABLE_REASON, permanent=False)


def unknown_account_reason(account_known: bool) -> str:
    if account_known:
        return "the email account belongs to another tenant"
    return "the email account does not exist"
