"""Token buckets per source and per tenant, with an injected clock."""

from __future__ import annotations

import pytest
from postdesk_ingest.ratelimit import (
    Rate,
    RateLimitedError,
    RateLimiter,
    RateLimitSettings,
    TokenBuckets,
    smtp_reply,
    tenant_key,
)
from pydantic import ValidationError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestRate:
    def test_parses_rate_and_burst(self) -> None:
        """'50/s burst 200' is 50 tokens a second, 200 at most."""
        assert Rate.parse("50/s burst 200") == Rate(50.0, 200)
        assert Rate.parse(" 2.5 / sec ") == Rate(2.5, 3)

    def test_off_means_unlimited(self) -> None:
        """'off' (or 0) turns a limit off."""
        assert Rate.parse("off") is None
        assert Rate.parse("0") is None

    @pytest.mark.parametrize("text", ["fast", "50", "50/m", "-1/s", "5/s burst 0"])
    def test_refuses_malformed(self, text: str) -> None:
        """Anything else is a configuration error."""
        with pytest.raises(ValueError, match="rate"):
            Rate.parse(text)

    def test_settings_validate_rates(self) -> None:
        """A malformed INGEST_RATE_PER_SOURCE fails at startup."""
        with pytest.raises(ValidationError):
            RateLimitSettings(rate_per_source="lots")


class TestTokenBuckets:
    def test_burst_then_refill(self) -> None:
        """A full bucket grants `burst` at once, then one token per 1/rate seconds."""
        clock = Clock()
        buckets = TokenBuckets(Rate(2.0, 3), clock=clock)
        assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
        assert buckets.take("a") == pytest.approx(0.5)
        clock.now += 0.5
        assert buckets.take("a") == 0.0
        assert buckets.take("a") == pytest.approx(0.5)

    def test_denied_take_costs_nothing(self) -> None:
        """Retrying while denied does not push the next token further away."""
        clock = Clock()
        buckets = TokenBuckets(Rate(1.0, 1), clock=clock)
        assert buckets.take("a") == 0.0
        for _ in range(5):
            assert buckets.take("a") == pytest.approx(1.0)
        clock.now += 1.0
        assert buckets.take("a") == 0.0

    def test_keys_are_independent(self) -> None:
        """One source's flood does not limit another."""
        buckets = TokenBuckets(Rate(1.0, 1), clock=Clock())
        assert buckets.take("a") == 0.0
        assert buckets.take("a") > 0
        assert buckets.take("b") == 0.0

    def test_idle_full_buckets_are_evicted(self) -> None:
        """A bucket idle long enough to be full again is dropped: memory follows active keys."""
        clock = Clock()
        buckets = TokenBuckets(Rate(10.0, 20), clock=clock)  # empty to full in 2 s
        for i in range(100):
            buckets.take(f"k{i}")
        assert len(buckets) == 100
        clock.now += 2.0
        buckets.take("new")
        assert len(buckets) == 1

    def test_memory_is_bounded(self) -> None:
        """Past max_keys the least recently used bucket goes."""
        clock = Clock()
        buckets = TokenBuckets(Rate(1.0, 1), clock=clock, max_keys=3)
        for key in "abcd":
            buckets.take(key)
            clock.now += 0.01
        assert len(buckets) == 3
        assert buckets.take("d") > 0  # still tracked: the newest stayed
        assert buckets.take("a") == 0.0  # dropped: starts full again


class TestRateLimiter:
    def test_source_limit_raises_with_retry_after(self) -> None:
        """Over the source rate: RateLimitedError with whole seconds to wait, at least 1."""
        limiter = RateLimiter(Rate(0.5, 2), None, clock=Clock())
        limiter.check_source("raw:10.0.0.1")
        limiter.check_source("raw:10.0.0.1")
        with pytest.raises(RateLimitedError) as raised:
            limiter.check_source("raw:10.0.0.1")
        assert (raised.value.scope, raised.value.retry_after) == ("source", 2)

    def test_tenant_key_is_first_recipient_domain(self) -> None:
        """Until tenants are resolved, the first recipient's domain is the tenant."""
        assert tenant_key(["CS@Acme.Example", "x@other.example"]) == "domain:acme.example"
        assert tenant_key([]) is None
        assert tenant_key(["a@acme.example"], tenant_id=7) == "tenant:7"

    def test_tenant_limit_shared_by_its_addresses(self) -> None:
        """Two addresses of one domain share one budget; another domain has its own."""
        limiter = RateLimiter(None, Rate(1.0, 1), clock=Clock())
        limiter.check_tenant(["cs@acme.example"])
        with pytest.raises(RateLimitedError) as raised:
            limiter.check_tenant(["sales@acme.example"])
        assert raised.value.scope == "tenant"
        limiter.check_tenant(["cs@other.example"])
        limiter.check_tenant([])  # no recipient, no tenant bucket

    def test_smtp_reply_is_451(self) -> None:
        """The SMTP helper gets None to go on, else a 451 4.7.1 reply."""
        clock = Clock()
        limiter = RateLimiter(Rate(1.0, 1), Rate(100.0, 100), clock=clock)
        assert limiter.smtp_reply("smtp:10.0.0.2", ["a@acme.example"]) is None
        reply = limiter.smtp_reply("smtp:10.0.0.2", ["a@acme.example"])
        assert reply == "451 4.7.1 source rate limit exceeded, try again in 1 s"
        assert smtp_reply(RateLimitedError("tenant", 3)).startswith("451 4.7.1 tenant")

    def test_off_limits_nothing(self) -> None:
        """With both limits off, nothing is tracked or refused."""
        limiter = RateLimiter.from_settings(
            RateLimitSettings(rate_per_source="off", rate_per_tenant="off")
        )
        for _ in range(1000):
            limiter.check_source("s")
            limiter.check_tenant(["a@b.example"])
        assert limiter.sources is None
        assert limiter.tenants is None
