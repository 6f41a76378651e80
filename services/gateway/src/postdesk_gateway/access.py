"""Pure rules of access: secrets of refresh and API tokens, the login lockout, the per-address
login throttle, password strength and the scope an API token needs for a route.

No I/O here. Only sha256 hashes of the random tokens are stored: they carry 256 bits of
randomness, so a fast hash is enough (unlike passwords, which are argon2).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from postdesk_contracts.api_access import ApiScope

API_TOKEN_PREFIX = "pdk_"  # noqa: S105  # the marker of an API token, not a secret
API_TOKEN_SHOWN_CHARS = 12
SESSION_ONLY = {"session_only": True}
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_MIN_DISTINCT_CHARS = 5
_SWEEP_AT_ADDRESSES = 10_000


@dataclass(frozen=True)
class LoginPolicy:
    """Lifetimes and lockout of login sessions, from the settings."""

    refresh_lifetime: timedelta
    max_failures: int
    lockout: timedelta


def hash_token(token: str) -> str:
    """What is stored of a refresh or API token: its sha256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def is_api_token(token: str) -> bool:
    return token.startswith(API_TOKEN_PREFIX)


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def weak_password_reason(new: str, *, current: str, login: str) -> str | None:
    """Why `new` is refused as a password, or None. Length is the request model's rule."""
    if new == current:
        return "the new password must differ from the current one"
    name = login.split("@", 1)[0].lower()
    if len(name) >= 3 and name in new.lower():
        return "the new password must not contain your login name"
    if len(set(new)) < _MIN_DISTINCT_CHARS:
        return f"the new password needs at least {_MIN_DISTINCT_CHARS} different characters"
    return None


def required_scope(method: str, path: str, opt: Mapping[str, Any]) -> ApiScope | None:
    """The scope an API token needs for this request; None when API tokens may not call the
    route at all (session-only routes: password change, API token management)."""
    if opt.get("session_only"):
        return None
    safe = method.upper() in _SAFE_METHODS
    if path.startswith("/admin/webhook"):
        return ApiScope.WEBHOOKS_MANAGE
    if path.startswith("/admin"):
        return ApiScope.ADMIN_READ if safe else ApiScope.ADMIN_WRITE
    return ApiScope.TICKETS_READ if safe else ApiScope.TICKETS_WRITE


class LoginThrottle:
    """Failed logins per client address in a sliding window, in this process only: with
    several replicas each counts its own share, so the effective limit is per replica.

    Addresses whose failures all left the window are forgotten, so memory follows the
    addresses failing right now.
    """

    def __init__(self, max_failures: int, window: timedelta) -> None:
        self._max = max_failures
        self._window = window
        self._failures: dict[str, deque[datetime]] = {}

    def retry_after(self, address: str, now: datetime) -> int | None:
        """Seconds until `address` may try again; None when it may now."""
        failures = self._recent(address, now)
        if len(failures) < self._max:
            return None
        return max(1, math.ceil((failures[0] + self._window - now).total_seconds()))

    def record_failure(self, address: str, now: datetime) -> None:
        self._recent(address, now).append(now)
        if len(self._failures) > _SWEEP_AT_ADDRESSES:
            for stale in [a for a in self._failures if not self._recent(a, now)]:
                del self._failures[stale]

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures
