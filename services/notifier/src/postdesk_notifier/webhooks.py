"""Webhook fan-out: one pending delivery per matching subscription, in the consuming transaction.

Invariants:
- A delivery exists at most once per (subscription, event): a redelivered event
  inserts nothing new.
- Only the event's own tenant's active subscriptions that name its type get one;
  an event without a tenant fans out to nobody.
- The payload is the envelope as JSON, the same document the events exchange carries.
"""

from __future__ import annotations

from typing import Any

from postdesk_contracts import Envelope
from postdesk_schema import WebhookDelivery, WebhookSubscription
from sqlalchemy import bindparam, exists, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

# Whether any subscription wants an event (the same test as `fan_out`), read along with
# the consumer's claim (`service.consume`), which skips `fan_out`, and the envelope's JSON,
# when none does. Built once; parameters: tenant_id (None: no tenant, nobody) and types
# (the event's type in a list).
SUBSCRIBED = exists().where(
    col(WebhookSubscription.tenant_id) == bindparam("tenant_id"),
    col(WebhookSubscription.is_active),
    col(WebhookSubscription.event_types).contains(bindparam("types", type_=JSONB)),
)


async def fan_out(session: AsyncSession, event: Envelope[Any]) -> int:
    """Queue `event` for every subscription that wants it; the number of deliveries inserted."""
    if event.tenant_id is None:
        return 0
    payload = event.model_dump(mode="json", by_alias=True)
    matching = select(
        func.gen_random_uuid(),
        col(WebhookSubscription.tenant_id),
        col(WebhookSubscription.id),
        literal(event.id),
        literal(event.type.value),
        literal(payload, type_=JSONB),
        literal("pending"),
        literal(0),
    ).where(
        col(WebhookSubscription.tenant_id) == event.tenant_id,
        col(WebhookSubscription.is_active),
        col(WebhookSubscription.event_types).contains([event.type.value]),
    )
    inserted = await session.execute(
        insert(WebhookDelivery)
        .from_select(
            [
                "id",
                "tenant_id",
                "subscription_id",
                "event_id",
                "event_type",
                "payload",
                "status",
                "attempts",
            ],
            matching,
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
        .returning(col(WebhookDelivery.id))
    )
    return len(inserted.scalars().all())
