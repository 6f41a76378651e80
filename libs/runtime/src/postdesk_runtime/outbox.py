"""Transactional outbox: events committed with their state change, published by a relay.

A service adds `outbox_row(...)` to the session that writes its effects and
calls `relay.wake()` after the commit. The relay publishes pending rows with
confirms and marks them published; a crash between the two publishes the
row again, which consumers absorb because they deduplicate on the event id.
Rows go to the events exchange, except those `dead_letter_row` writes, which
go to the dead-letter exchange (header `x-postdesk-exchange`), so a service
can put a message it gives up on into its queue's dead-letter queue in the
same transaction as the decision.
Several replicas may relay the same service's rows: `FOR UPDATE SKIP LOCKED`
gives each row to one of them at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from opentelemetry import propagate
from postdesk_contracts.envelope import Envelope
from postdesk_contracts.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, QueueSpec
from postdesk_schema.infra import OutboxEvent
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_runtime.broker import EventPublisher
from postdesk_runtime.db import Sessions

log = structlog.get_logger(__name__)

EXCHANGE_HEADER = "x-postdesk-exchange"
HISTORY_HEADER = "x-postdesk-history"
REASON_HEADER = "x-postdesk-dead-reason"


def outbox_row(service: str, envelope: Envelope[Any]) -> OutboxEvent:
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return OutboxEvent(
        id=envelope.id,
        service=service,
        routing_key=envelope.type.value,
        body=envelope.model_dump_json(by_alias=True),
        headers=headers | {"x-correlation-id": str(envelope.correlation_id)},
    )


_INSERT = insert(OutboxEvent.__table__)  # type: ignore[attr-defined]


async def add_to_outbox(
    session: AsyncSession, service: str, envelopes: Sequence[Envelope[Any]]
) -> None:
    """`envelopes` as outbox rows by one plain INSERT: the cheap form of `outbox_row` for
    rows the transaction never reads back (no ORM objects, no unit-of-work flush)."""
    if not envelopes:
        return
    trace: dict[str, str] = {}
    propagate.inject(trace)
    now = datetime.now(UTC)
    await session.execute(
        _INSERT,
        [
            {
                "id": envelope.id,
                "service": service,
                "routing_key": envelope.type.value,
                "body": envelope.model_dump_json(by_alias=True),
                "headers": trace | {"x-correlation-id": str(envelope.correlation_id)},
                "created_at": now,
            }
            for envelope in envelopes
        ],
    )


def dead_letter_row(
    service: str,
    queue: QueueSpec,
    envelope: Envelope[Any],
    *,
    row_id: uuid.UUID,
    history: Sequence[Any],
    reason: str,
) -> OutboxEvent:
    """A row that puts `envelope` into `queue`'s dead-letter queue, as RabbitMQ would have.

    The body is the envelope unchanged (its own id), so it can be inspected
    and replayed like any dead-lettered message; `row_id` is the outbox row's
    and the published message's id. `history` (JSON) and `reason` travel as
    headers.
    """
    row = outbox_row(service, envelope)
    row.id = row_id
    row.routing_key = queue.name  # the dead-letter exchange routes by the queue's name
    row.headers = row.headers | {
        EXCHANGE_HEADER: DEAD_LETTER_EXCHANGE,
        HISTORY_HEADER: json.dumps(list(history), default=str),
        REASON_HEADER: reason,
    }
    return row


class OutboxRelay:
    """Publishes one service's pending outbox rows until stopped."""

    def __init__(
        self,
        service: str,
        sessions: Sessions,
        publisher: EventPublisher,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.5,
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Publish up to one batch; returns how many rows were published."""
        async with self._sessions() as session, session.begin():
            rows = (
                await session.scalars(
                    select(OutboxEvent)
                    .where(
                        OutboxEvent.service == self.service, col(OutboxEvent.published_at).is_(None)
                    )
                    .order_by(col(OutboxEvent.created_at))
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await asyncio.gather(*(self._publish(row) for row in rows))
            await session.execute(
                update(OutboxEvent)
                .where(col(OutboxEvent.id).in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
            )
        return len(rows)

    async def _publish(self, row: OutboxEvent) -> None:
        headers = dict(row.headers)
        exchange = headers.pop(EXCHANGE_HEADER, EVENTS_EXCHANGE)
        await self._publisher.publish_raw(
            routing_key=row.routing_key,
            body=row.body.encode(),
            event_id=row.id,
            correlation_id=uuid.UUID(headers.get("x-correlation-id", str(row.id))),
            headers=headers,
            exchange=exchange,
        )

    async def run(self) -> None:
        backoff = self._poll_interval
        while True:
            try:
                published = await self.relay_once()
                backoff = self._poll_interval
            except Exception:
                log.exception(
                    "outbox relay failed; retrying", service=self.service, backoff=backoff
                )
                published = 0
                backoff = min(backoff * 2, 10.0)
            if published >= self._batch_size:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=backoff)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        """Stop after a final drain, so committed events leave before shutdown."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(Exception):
            await self.relay_once()
