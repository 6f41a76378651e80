"""A background job run every few seconds inside a service (timer scans and the like).

The job returns how much work it did; when it did a full batch it runs again
at once, otherwise it sleeps for the interval. An error is logged and the job
runs again on the next tick, so one bad row never stops the loop. Several
replicas may run the same job: jobs claim their rows (`FOR UPDATE SKIP
LOCKED`), so each row is handled by one replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class Periodic:
    def __init__(
        self,
        name: str,
        job: Callable[[], Awaitable[int]],
        *,
        interval: float,
        full_batch: int | None = None,
        after_work: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._job = job
        self._interval = interval
        self._full_batch = full_batch
        self._after_work = after_work
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        done = await self._job()
        if done and self._after_work is not None:
            self._after_work()
        return done

    async def _loop(self) -> None:
        while True:
            try:
                done = await self.run_once()
            except Exception:
                log.exception("periodic job failed", job=self.name)
                done = 0
            if self._full_batch is None or done < self._full_batch:
                await asyncio.sleep(self._interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"periodic-{self.name}")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
