"""What an attempt at a webhook delivery comes to: the row's next state. No I/O.

Invariants:
- A 2xx response delivers; any other response, a connection error, a
  timeout or a host that did not resolve is retried with exponential backoff
  and full jitter until the attempt limit, then the delivery fails.
- A permanent refusal (the address guard refused the URL, the subscription
  was deactivated) fails at once, without a retry.
- The attempt log keeps the last `MAX_LOGGED_ATTEMPTS` attempts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

MAX_LOGGED_ATTEMPTS: Final = 20
MAX_ERROR_CHARS: Final = 500


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class AttemptResult:
    """One attempt: the receiver's status code, or why there was none."""

    response_status: int | None = None
    error: str = ""
    permanent: bool = False
    duration_ms: int = 0

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300

    @property
    def problem(self) -> str:
        """What went wrong, for last_error; "" for a success."""
        if self.succeeded:
            return ""
        return self.error or f"the receiver answered HTTP {self.response_status}"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base: timedelta
    cap: timedelta

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> timedelta:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]; `attempt` counts
        from 1 (the attempt that just failed)."""
        ceiling = min(self.cap, self.base * (1 << min(max(attempt - 1, 0), 30)))
        return ceiling * rand()


@dataclass(frozen=True)
class Settlement:
    """The columns an attempt sets on its delivery."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    response_status: int | None
    last_error: str
    attempt_log: list[dict[str, Any]]
    delivered_at: datetime | None


def log_entry(at: datetime, result: AttemptResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": at.isoformat(), "duration_ms": result.duration_ms}
    if result.response_status is not None:
        entry["status"] = result.response_status
    if result.error:
        entry["error"] = result.error[:MAX_ERROR_CHARS]
    return entry


def settle(
    result: AttemptResult,
    *,
    attempts: int,
    previous_log: Sequence[dict[str, Any]],
    now: datetime,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
) -> Settlement:
    """The delivery's state after its `attempts`-th attempt ended with `result` at `now`."""
    attempt_log = [*previous_log, log_entry(now, result)][-MAX_LOGGED_ATTEMPTS:]
    problem = result.problem[:MAX_ERROR_CHARS]
    if result.succeeded:
        return Settlement(
            DeliveryStatus.DELIVERED, None, result.response_status, "", attempt_log, now
        )
    if result.permanent or attempts >= policy.max_attempts:
        last_error = (
            problem if result.permanent else f"gave up after {attempts} attempts: {problem}"
        )
        return Settlement(
            DeliveryStatus.FAILED, None, result.response_status, last_error, attempt_log, None
        )
    return Settlement(
        DeliveryStatus.RETRYING,
        now + policy.delay(attempts, rand),
        result.response_status,
        problem,
        attempt_log,
        None,
    )


def request_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed): compact UTF-8 JSON of the stored envelope."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
