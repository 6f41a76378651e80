"""Waiting for something that happens asynchronously, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], within: float = 15.0, interval: float = 0.05
) -> T:
    """Poll `probe` every `interval` seconds until it returns something other than None."""
    deadline = time.monotonic() + within
    while (found := await probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
    return found
