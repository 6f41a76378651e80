"""A database outage must not use up the delivery limit of the messages in hand.

A consumer nacks a message whose handler failed, and RabbitMQ hands it back
at once; the quorum queue dead-letters it after `delivery_limit` deliveries
(postdesk_contracts.topology). That is right for a poison message, but during
a database outage every handler fails, in milliseconds, so a backlog burnt
through its five deliveries and was dead-lettered within a second of
PostgreSQL going away (found by tests/faults/test_postgres_restart.py).

`DatabaseOutageGuard` is a consumer middleware: when a handler fails, it asks
the database whether it answers. If it does, the failure was the message's
own and the nack goes out at once, as before. If it does not, the message is
held, unacknowledged, until the database answers again (or `max_wait`
passes), and only then nacked and redelivered: an outage costs each message
in hand one delivery. While messages are held the consumer's prefetch is
full, so it takes no new ones: the queue keeps them. One probe loop serves
every held message of the process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import BaseMiddleware
from faststream.message import StreamMessage

log = structlog.get_logger(__name__)

Probe = Callable[[], Awaitable[bool]]

PROBE_TIMEOUT_SECONDS = 5.0
FIRST_POLL_SECONDS = 0.5
LONGEST_POLL_SECONDS = 5.0
MAX_WAIT_SECONDS = (
    600.0  # below RabbitMQ's consumer timeout (30 min), which would close the channel
)


class DatabaseOutageGuard:
    """A middleware factory for `broker.add_middleware`, sharing one probe loop."""

    def __init__(
        self,
        database_answers: Probe,
        *,
        max_wait: float = MAX_WAIT_SECONDS,
        probe_timeout: float = PROBE_TIMEOUT_SECONDS,
    ) -> None:
        self._database_answers = database_answers
        self._max_wait = max_wait
        self._probe_timeout = probe_timeout
        self._recovery: asyncio.Task[bool] | None = None

    def __call__(self, msg: Any, /, *, context: Any) -> _OutageMiddleware:
        return _OutageMiddleware(msg, context=context, guard=self)

    async def answers(self) -> bool:
        try:
            return await asyncio.wait_for(self._database_answers(), self._probe_timeout)
        except (TimeoutError, OSError):
            return False

    async def wait_out_outage(self) -> None:
        """Return at once if the database answers; else when it answers again (or gives up)."""
        if self._recovery is None or self._recovery.done():
            if await self.answers():
                return
            if self._recovery is None or self._recovery.done():
                self._recovery = asyncio.create_task(self._until_it_answers())
        await asyncio.shield(self._recovery)

    async def _until_it_answers(self) -> bool:
        log.warning("database unreachable: holding failed messages until it answers")
        started = time.monotonic()
        pause = FIRST_POLL_SECONDS
        while time.monotonic() - started < self._max_wait:
            await asyncio.sleep(pause)
            if await self.answers():
                log.info(
                    "database answers again: redelivering held messages",
                    waited_seconds=round(time.monotonic() - started, 1),
                )
                return True
            pause = min(pause * 2, LONGEST_POLL_SECONDS)
        log.error("database still unreachable: releasing held messages", waited=self._max_wait)
        return False


class _OutageMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, guard: DatabaseOutageGuard) -> None:
        super().__init__(msg, context=context)
        self._guard = guard

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        try:
            return await call_next(msg)
        except Exception:
            await self._guard.wait_out_outage()
            raise
