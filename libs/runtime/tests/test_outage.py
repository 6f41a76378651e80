"""DatabaseOutageGuard's decisions, with a scripted probe (the whole story, a real
PostgreSQL restarted under the running pipeline, is tests/faults/test_postgres_restart.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from postdesk_runtime.outage import DatabaseOutageGuard


class ScriptedProbe:
    """Answers False `down` times, then True; counts the calls."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        return self.calls > self.down


async def test_a_failure_while_the_database_answers_is_released_at_once() -> None:
    probe = ScriptedProbe(down=0)
    started = time.monotonic()
    await DatabaseOutageGuard(probe).wait_out_outage()
    assert time.monotonic() - started < 0.4
    assert probe.calls == 1


async def test_failures_during_an_outage_wait_for_the_database_on_one_probe_loop() -> None:
    """Ten messages failing at once during a one-second outage all wait until the database
    answers again; after each one's first look, one loop polls for all of them."""
    back_at = time.monotonic() + 1.0
    calls = 0

    async def database_answers() -> bool:
        nonlocal calls
        calls += 1
        return time.monotonic() >= back_at

    guard = DatabaseOutageGuard(database_answers)
    waits = await asyncio.gather(*(timed(guard.wait_out_outage()) for _ in range(10)))
    assert min(waits) >= 0.9
    assert calls <= 10 + 4  # the first looks, then the loop's polls at 0.5, 1.5 s


async def timed(waiting: Awaitable[None]) -> float:
    started = time.monotonic()
    await waiting
    return time.monotonic() - started


async def test_a_probe_that_hangs_counts_as_down_and_the_wait_ends_at_max_wait() -> None:
    async def hangs() -> bool:
        await asyncio.sleep(3600)
        return True

    guard = DatabaseOutageGuard(hangs, max_wait=0.2, probe_timeout=0.1)
    started = time.monotonic()
    async with asyncio.timeout(20):
        await guard.wait_out_outage()
    assert 0.2 <= time.monotonic() - started < 5
