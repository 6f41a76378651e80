"""Tokens seen recently, pure: refuses a signed request replayed within its window.

A token is claimed when its request is verified and released again if the
request is not accepted, so the provider's own retry of a failed delivery
(same token) is not mistaken for a replay. Entries expire after `ttl`
seconds (beyond the replay window a replay fails on its timestamp anyway);
at most `max_entries` are kept, the oldest dropped first.

In memory, per ingest replica: a replay sent to another replica within the
window is not detected (it then carries the signed body of the original,
and dedupes downstream, unless the signature does not cover the body, as
with Mailgun's; see docs/ingest-webhooks.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class TokenLedger:
    def __init__(
        self, ttl: float, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # token -> claimed at, oldest first

    def __len__(self) -> int:
        return len(self._seen)

    def claim(self, token: str) -> bool:
        """True the first time `token` is seen within `ttl`; False for a reuse."""
        now = self._clock()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < self.ttl and len(self._seen) < self._max_entries:
                break
            del self._seen[oldest]
        if token in self._seen:
            return False
        self._seen[token] = now
        return True

    def release(self, token: str) -> None:
        """Forget `token`: its request was not accepted and may be retried."""
        self._seen.pop(token, None)
