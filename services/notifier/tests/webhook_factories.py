"""Factories for the webhook tests: tenants, subscriptions with a sealed secret, deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from postdesk_runtime import Sessions
from postdesk_runtime.keyring import Keyring
from postdesk_runtime.webhook_signing import seal_secret
from postdesk_schema import Tenant, WebhookDelivery, WebhookSubscription

TEST_KEYRING = Keyring([("test", bytes(range(32)))])
TEST_SECRET = "whsec-test-secret"


async def add_tenant(sessions: Sessions, *, allow_private: bool = False) -> Tenant:
    suffix = uuid.uuid4().hex[:10]
    tenant = Tenant(
        name=f"Hooks {suffix}",
        slug=f"hooks-{suffix}",
        settings={"webhooks_allow_private_targets": True} if allow_private else {},
    )
    async with sessions() as session, session.begin():
        session.add(tenant)
    return tenant


async def add_subscription(
    sessions: Sessions,
    tenant_id: uuid.UUID,
    event_types: list[str],
    *,
    # A documentation address: a deliverer refuses it without any DNS or connection.
    url: str = "https://192.0.2.10/postdesk",
    is_active: bool = True,
    secret: str = TEST_SECRET,
) -> WebhookSubscription:
    subscription = WebhookSubscription(
        tenant_id=tenant_id,
        url=url,
        event_types=event_types,
        secret_sealed=seal_secret(TEST_KEYRING, secret),
        is_active=is_active,
    )
    async with sessions() as session, session.begin():
        session.add(subscription)
    return subscription


def envelope_json(tenant_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    """A stored payload as fan-out writes it: an envelope as JSON."""
    return {
        "id": str(event_id),
        "type": "ticket.updated",
        "version": 1,
        "occurred_at": "2000-01-01T00:00:00Z",
        "tenant_id": str(tenant_id),
        "correlation_id": str(event_id),
        "causation_id": None,
        "payload": {"ticket_id": str(uuid.uuid4()), "changes": {"status": "closed"}, "note": "ü"},
    }


async def add_delivery(
    sessions: Sessions,
    subscription: WebhookSubscription,
    *,
    next_attempt_at: datetime,
    status: str = "pending",
    attempts: int = 0,
    claimed_at: datetime | None = None,
) -> WebhookDelivery:
    event_id = uuid.uuid4()
    delivery = WebhookDelivery(
        tenant_id=subscription.tenant_id,
        subscription_id=subscription.id,
        event_id=event_id,
        event_type="ticket.updated",
        payload=envelope_json(subscription.tenant_id, event_id),
        status=status,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        claimed_at=claimed_at,
    )
    async with sessions() as session, session.begin():
        session.add(delivery)
    return delivery
