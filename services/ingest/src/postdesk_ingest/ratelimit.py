"""Rate limits of ingest, pure: token buckets per source and per tenant.

A bucket holds up to `burst` tokens and refills at `per_second`; each
message takes one token. A denied message takes none and is told how long
to wait for the next token (`RateLimitedError.retry_after`, whole seconds, at
least 1). HTTP answers 429 with Retry-After, SMTP answers 451 (`smtp_reply`).

Keys: the source is the channel and the client (``"mailgun:203.0.113.9"``,
``"smtp:198.51.100.7"``); the tenant key is the tenant id once it is known,
until then the domain of the first envelope recipient (`tenant_key`).

Memory is bounded: a bucket idle long enough to be full again is
indistinguishable from a new one and is dropped; past `max_keys` the least
recently used bucket is dropped (it starts again full, which only errs on
the permissive side). Buckets live in one process: with N ingest replicas
the effective limit is up to N times the configured one.

Not thread-safe; ingest uses it from one event loop.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Clock = Callable[[], float]
Scope = Literal["source", "tenant"]
DEFAULT_MAX_KEYS = 10_000

_RATE = re.compile(
    r"^\s*(?P<rate>\d+(?:\.\d+)?)\s*/\s*s(?:ec(?:ond)?)?\s*(?:burst\s+(?P<burst>\d+))?\s*$",
    re.IGNORECASE,
)
_OFF = {"off", "none", "unlimited", "0"}


@dataclass(frozen=True)
class Rate:
    """`per_second` tokens refilled each second, at most `burst` kept."""

    per_second: float
    burst: int

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """``"50/s burst 200"`` (burst defaults to the rate), or ``"off"`` for no limit (None)."""
        if text.strip().lower() in _OFF:
            return None
        match = _RATE.match(text)
        if not match:
            raise ValueError(f"rate {text!r} is not like '50/s burst 200' or 'off'")
        per_second = float(match["rate"])
        burst = int(match["burst"]) if match["burst"] else max(1, math.ceil(per_second))
        if per_second <= 0 or burst < 1:
            raise ValueError(f"rate {text!r} must be positive with a burst of at least 1")
        return cls(per_second, burst)

    def __str__(self) -> str:
        return f"{self.per_second:g}/s burst {self.burst}"


class RateLimitedError(Exception):
    """A message went over a limit; retry after `retry_after` seconds."""

    def __init__(self, scope: Scope, retry_after: int) -> None:
        super().__init__(f"{scope} rate limit exceeded, retry in {retry_after} s")
        self.scope = scope
        self.retry_after = retry_after


class TokenBuckets:
    """One token bucket per key, all with the same rate, in bounded memory."""

    def __init__(self, rate: Rate, *, clock: Clock = time.monotonic, max_keys: int = 10_000):
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._refill_seconds = rate.burst / rate.per_second  # empty to full
        # key -> (tokens, updated); ordered by `updated`, oldest first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take a token for `key`: 0.0 if granted, else the seconds until one is available."""
        now = self._clock()
        self._evict(now)
        tokens, updated = self._buckets.pop(key, (float(self.rate.burst), now))
        tokens = min(
            float(self.rate.burst), tokens + max(0.0, now - updated) * self.rate.per_second
        )
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate.per_second
        self._buckets[key] = (tokens, now)
        return wait

    def _evict(self, now: float) -> None:
        while self._buckets:
            key, (_, updated) = next(iter(self._buckets.items()))
            if now - updated < self._refill_seconds and len(self._buckets) < self._max_keys:
                return
            del self._buckets[key]


def tenant_key(recipients: Sequence[str], tenant_id: object | None = None) -> str | None:
    """The tenant's bucket key: its id when known, else the first recipient's domain."""
    if tenant_id is not None:
        return f"tenant:{tenant_id}"
    for recipient in recipients:
        domain = recipient.strip().rpartition("@")[2].strip().lower().rstrip(">")
        if domain:
            return f"domain:{domain}"
    return None


class RateLimiter:
    """The per-source and per-tenant limits of one ingest process; None means unlimited."""

    def __init__(
        self,
        per_source: Rate | None,
        per_tenant: Rate | None,
        *,
        clock: Clock = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        self.sources = (
            TokenBuckets(per_source, clock=clock, max_keys=max_keys) if per_source else None
        )
        self.tenants = (
            TokenBuckets(per_tenant, clock=clock, max_keys=max_keys) if per_tenant else None
        )

    @classmethod
    def from_settings(
        cls, settings: RateLimitSettings, *, clock: Clock = time.monotonic
    ) -> RateLimiter:
        return cls(
            Rate.parse(settings.rate_per_source),
            Rate.parse(settings.rate_per_tenant),
            clock=clock,
            max_keys=settings.rate_max_keys,
        )

    def check_source(self, source: str) -> None:
        """Take a token of `source`'s bucket or raise `RateLimitedError`."""
        _take(self.sources, source, "source")

    def check_tenant(self, recipients: Sequence[str], tenant_id: object | None = None) -> None:
        """Take a token of the tenant's bucket (see `tenant_key`) or raise `RateLimitedError`."""
        key = tenant_key(recipients, tenant_id)
        if key is not None:
            _take(self.tenants, key, "tenant")

    def smtp_reply(
        self, source: str, recipients: Sequence[str] = (), tenant_id: object | None = None
    ) -> str | None:
        """For an SMTP/LMTP session: None to go on, else the 451 reply to send."""
        try:
            self.check_source(source)
            self.check_tenant(recipients, tenant_id)
        except RateLimitedError as limited:
            return smtp_reply(limited)
        return None


def smtp_reply(limited: RateLimitedError) -> str:
    """The transient SMTP answer to a rate-limited message (RFC 3463 4.7.1)."""
    return f"451 4.7.1 {limited.scope} rate limit exceeded, try again in {limited.retry_after} s"


def _take(buckets: TokenBuckets | None, key: str, scope: Scope) -> None:
    if buckets is None:
        return
    wait = buckets.take(key)
    if wait > 0:
        raise RateLimitedError(scope, max(1, math.ceil(wait)))


class RateLimitSettings(BaseSettings):
    """Ingest's rate limits from the environment; composed into `IngestSettings`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    rate_per_source: str = Field(
        default="50/s burst 200",
        validation_alias=AliasChoices("INGEST_RATE_PER_SOURCE", "rate_per_source"),
        description="messages per source (channel and client address), e.g. '50/s burst 200' or 'off'",
    )
    rate_per_tenant: str = Field(
        default="20/s burst 400",
        validation_alias=AliasChoices("INGEST_RATE_PER_TENANT", "rate_per_tenant"),
        description="messages per tenant (first recipient's domain until resolved), or 'off'",
    )
    rate_max_keys: int = Field(
        default=DEFAULT_MAX_KEYS,
        ge=1,
        validation_alias=AliasChoices("INGEST_RATE_MAX_KEYS", "rate_max_keys"),
        description="buckets kept per kind before the least recently used is dropped",
    )

    @field_validator("rate_per_source", "rate_per_tenant")
    @classmethod
    def _valid_rate(cls, value: str) -> str:
        Rate.parse(value)
        return value
