"""Binds each consumed message's correlation id into the structlog context."""

from __future__ import annotations

from typing import Any

import structlog
from faststream import BaseMiddleware
from faststream.message import StreamMessage


class CorrelationMiddleware(BaseMiddleware):
    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        with structlog.contextvars.bound_contextvars(
            correlation_id=msg.correlation_id, event_id=msg.message_id
        ):
            return await call_next(msg)
