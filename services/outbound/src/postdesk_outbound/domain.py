"""The rules of sending one outbound message. No I/O.

A message moves through these states (ADR 0009):

    scheduled --claim--> sending --250--> sent
    retrying  --claim--> sending --4xx, connection error--> retrying | dead
                         sending --5xx, unusable request--> failed
                         sending --quota full--> retrying (not counted as an attempt)
    scheduled --undo--> cancelled

Only the claim leaves `scheduled` and `retrying` for `sending`, and only the
undo leaves `scheduled` for `cancelled`; both are conditional on the status
they leave, so a message is either sent or cancelled, never both.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

NO_SMTP_REASON = "no outbound SMTP server configured for this tenant"
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
RETRY_FLOOR = timedelta(seconds=1)
MAX_LOGGED_RESPONSE = 1000
CRASH_BEFORE_TRANSACTION = (
    "recovered: the sender stopped before the SMTP transaction; nothing was sent"
)
CRASH_DURING_TRANSACTION = (
    "resent after a crash during the SMTP transaction: "
    "may duplicate the earlier attempt (same Message-ID)"
)


class OutboundStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DEAD = "dead"


def unknown_account_reason(account_known: bool) -> str:
    if account_known:
        return "the email account belongs to another tenant"
    return "the email account does not exist"


def first_attempt_at(
    requested_at: datetime, send_at: datetime | None, undo_seconds: int
) -> datetime:
    """When a new request is first due: its `send_at`, but never inside the undo window."""
    undo_until = requested_at + timedelta(seconds=undo_seconds)
    return max(send_at, undo_until) if send_at is not None else undo_until


def retry_delay(
    attempt: int,
    *,
    base: timedelta = RETRY_BASE,
    cap: timedelta = RETRY_CAP,
    rand: Callable[[], float] = random.random,
) -> timedelta:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1))].

    `attempt` counts from 1 (the attempt that just failed). A floor of one
    second keeps an unlucky draw from retrying in the same breath.
    """
    ceiling = min(cap, base * (1 << min(max(attempt - 1, 0), 30)))
    return max(RETRY_FLOOR, ceiling * rand())


def gave_up_reason(attempts: int, last: str) -> str:
    return f"gave up after {attempts} attempts: {last}"


def log_entry(at: datetime, stage: str, detail: str, **extra: Any) -> dict[str, Any]:
    """One attempt_log item: when, at which stage, what happened (a server's answer is cut to 1000 characters)."""
    return {"at": at.isoformat(), "stage": stage, "detail": detail[:MAX_LOGGED_RESPONSE], **extra}
