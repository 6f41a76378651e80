"""Consumer idempotency: claim an event id inside the transaction that commits its effects."""

from __future__ import annotations

import uuid

from postdesk_schema.infra import ProcessedEvent
from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_runtime.metrics import record_duplicate

# Built once: building an INSERT per call costs more CPU than PostgreSQL spends running it.
_CLAIM = (
    insert(ProcessedEvent)
    .values(consumer=bindparam("consumer"), event_id=bindparam("event_id"))
    .on_conflict_do_nothing()
    .returning(col(ProcessedEvent.event_id))
)


async def claim_event(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """True if this is the first time `consumer` handles `event_id`.

    Call inside the transaction that writes the event's effects: if that
    transaction rolls back, the claim rolls back with it.
    """
    claimed = await session.execute(_CLAIM, {"consumer": consumer, "event_id": event_id})
    first = claimed.scalar_one_or_none() is not None
    if not first:
        record_duplicate(consumer)
    return first
