"""The webhook deliverer's queries: claiming due deliveries and recording their attempts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from postdesk_schema import Tenant, WebhookDelivery, WebhookSubscription
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_notifier.webhook_rules import DeliveryStatus, Settlement

ALLOW_PRIVATE_SETTING = "webhooks_allow_private_targets"
_CLAIMABLE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.DELIVERING)


@dataclass(frozen=True)
class DeliveryClaim:
    """A delivery this worker holds (status delivering since `claimed_at`), with what it
    needs from its subscription and tenant. `attempts` includes the attempt being made."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    attempts: int
    attempt_log: list[dict[str, Any]]
    claimed_at: datetime
    url: str = ""
    secret_sealed: str = field(default="", repr=False)
    subscription_active: bool = False
    allow_private: bool = False


async def claim_due(
    session: AsyncSession, *, now: datetime, stalled_before: datetime, batch: int
) -> list[DeliveryClaim]:
    """Take up to `batch` deliveries for an attempt: due pending/retrying ones, and delivering
    ones claimed before `stalled_before` (their worker stopped). Each becomes delivering,
    claimed at `now`, attempts + 1. `FOR UPDATE SKIP LOCKED` gives each to one worker."""
    due = (
        select(col(WebhookDelivery.id))
        .where(
            col(WebhookDelivery.status).in_([status.value for status in _CLAIMABLE]),
            col(WebhookDelivery.next_attempt_at) <= now,
            or_(
                col(WebhookDelivery.status) != DeliveryStatus.DELIVERING.value,
                col(WebhookDelivery.claimed_at) < stalled_before,
            ),
        )
        .order_by(col(WebhookDelivery.next_attempt_at))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    rows = (
        await session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_(due.scalar_subquery()))
            .values(
                status=DeliveryStatus.DELIVERING.value,
                claimed_at=now,
                attempts=col(WebhookDelivery.attempts) + 1,
            )
            .returning(
                col(WebhookDelivery.id),
                col(WebhookDelivery.tenant_id),
                col(WebhookDelivery.subscription_id),
                col(WebhookDelivery.event_id),
                col(WebhookDelivery.event_type),
                col(WebhookDelivery.payload),
                col(WebhookDelivery.attempts),
                col(WebhookDelivery.attempt_log),
                col(WebhookDelivery.claimed_at),
            )
        )
    ).all()
    targets = await _targets(session, {row.subscription_id for row in rows})
    return [
        DeliveryClaim(
            id=row.id,
            tenant_id=row.tenant_id,
            subscription_id=row.subscription_id,
            event_id=row.event_id,
            event_type=row.event_type,
            payload=row.payload,
            attempts=row.attempts,
            attempt_log=list(row.attempt_log),
            claimed_at=row.claimed_at,
            **targets.get(row.subscription_id, {}),
        )
        for row in rows
    ]


async def _targets(
    session: AsyncSession, subscription_ids: set[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Per subscription: its URL, sealed secret, whether it is active and whether its tenant
    allows private targets."""
    if not subscription_ids:
        return {}
    rows = await session.execute(
        select(
            col(WebhookSubscription.id),
            col(WebhookSubscription.url),
            col(WebhookSubscription.secret_sealed),
            col(WebhookSubscription.is_active),
            col(Tenant.settings)[ALLOW_PRIVATE_SETTING].label("allow_private"),
        )
        .join(Tenant, col(Tenant.id) == col(WebhookSubscription.tenant_id))
        .where(col(WebhookSubscription.id).in_(subscription_ids))
    )
    return {
        row.id: {
            "url": row.url,
            "secret_sealed": row.secret_sealed,
            "subscription_active": row.is_active,
            "allow_private": row.allow_private is True,
        }
        for row in rows
    }


async def record(
    session: AsyncSession, claim: DeliveryClaim, settlement: Settlement, *, now: datetime
) -> bool:
    """Store the attempt's outcome; False if the claim was lost (another worker took the
    delivery as stalled), in which case nothing is written."""
    values: dict[str, Any] = {
        "status": settlement.status.value,
        "claimed_at": None,
        "last_attempt_at": now,
        "response_status": settlement.response_status,
        "last_error": settlement.last_error,
        "attempt_log": settlement.attempt_log,
        "delivered_at": settlement.delivered_at,
    }
    if settlement.next_attempt_at is not None:
        values["next_attempt_at"] = settlement.next_attempt_at
    updated = await session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == claim.id,
            col(WebhookDelivery.status) == DeliveryStatus.DELIVERING.value,
            col(WebhookDelivery.claimed_at) == claim.claimed_at,
        )
        .values(**values)
        .returning(col(WebhookDelivery.id))
    )
    return updated.first() is not None
