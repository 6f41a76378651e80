"""A tenant's webhook subscriptions and their deliveries, for its admins.

Invariants:
- Only tenant admins act here (403 for anyone else); a subscription or
  delivery of another tenant is 404, like one that does not exist.
- A saved URL passed the address guard (`postdesk_runtime.netguard`) with
  the tenant's `webhooks_allow_private_targets` setting; a refusal is 422
  with the guard's reason. The notifier checks again at every attempt.
- The signing secret is generated here, stored sealed with the keyring, and
  returned only by create and rotate-secret.
- Every change is audit-logged in its own transaction.
- Writes to webhook_deliveries (the notifier's table) are three: a ping
  delivery inserted as pending, one conditional failed -> pending reset,
  and the deletion of a deleted subscription's deliveries. None races the
  notifier: it never takes a failed row and only updates rows it claimed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from postdesk_contracts.api_webhooks import (
    PING_EVENT_TYPE,
    WebhookDeliveryList,
    WebhookDeliveryView,
    WebhookSecret,
    WebhookSettings,
    WebhookSubscriptionCreate,
    WebhookSubscriptionCreated,
    WebhookSubscriptionList,
    WebhookSubscriptionUpdate,
    WebhookSubscriptionView,
)
from postdesk_runtime.keyring import Keyring
from postdesk_runtime.netguard import NetguardError, vet_url
from postdesk_runtime.webhook_signing import new_secret, seal_secret
from postdesk_schema import Tenant, WebhookDelivery, WebhookSubscription
from sqlalchemy import delete, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_gateway import db
from postdesk_gateway.admin_common import require_admin
from postdesk_gateway.domain import (
    ConflictError,
    CurrentUser,
    KeyCursor,
    NotFoundError,
    UnprocessableError,
    decode_key,
    encode_key,
)

ALLOW_PRIVATE_SETTING: Final = "webhooks_allow_private_targets"
OBJECT_TYPE: Final = "webhook_subscription"
VET_TIMEOUT_SECONDS: Final = 5.0
_SETTLED: Final = frozenset({"delivered", "failed"})

log = structlog.get_logger(__name__)


async def _subscription(
    session: AsyncSession, user: CurrentUser, subscription_id: uuid.UUID, *, lock: bool = False
) -> WebhookSubscription:
    require_admin(user, "manage webhooks")
    query = select(WebhookSubscription).where(
        col(WebhookSubscription.id) == subscription_id,
        col(WebhookSubscription.tenant_id) == user.tenant_id,
    )
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFoundError("webhook subscription not found")
    return found


async def _allows_private(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    value = await session.scalar(
        select(col(Tenant.settings)[ALLOW_PRIVATE_SETTING]).where(col(Tenant.id) == tenant_id)
    )
    return value is True


async def _vetted(session: AsyncSession, user: CurrentUser, url: str) -> str:
    """`url` if the address guard lets it through for this tenant; 422 with why not."""
    allow_private = await _allows_private(session, user.tenant_id)
    try:
        async with asyncio.timeout(VET_TIMEOUT_SECONDS):
            await vet_url(url, allow_private=allow_private)
    except NetguardError as error:
        raise UnprocessableError(f"the webhook URL is refused: {error}") from error
    except TimeoutError as error:
        raise UnprocessableError(
            "the webhook URL is refused: its host did not resolve in time"
        ) from error
    return url


def _view(row: WebhookSubscription) -> WebhookSubscriptionView:
    return WebhookSubscriptionView.model_validate(row, from_attributes=True)


def _delivery_view(row: WebhookDelivery) -> WebhookDeliveryView:
    view = WebhookDeliveryView.model_validate(row, from_attributes=True)
    return view.model_copy(update={"next_attempt_at": None}) if row.status in _SETTLED else view


def _audit(
    session: AsyncSession,
    user: CurrentUser,
    action: str,
    subscription_id: uuid.UUID,
    ip: str,
    detail: dict[str, Any] | None = None,
) -> None:
    db.audit(
        session,
        user,
        action=f"webhook.{action}",
        object_type=OBJECT_TYPE,
        object_id=subscription_id,
        ip=ip,
        detail=detail,
    )


async def list_subscriptions(session: AsyncSession, user: CurrentUser) -> WebhookSubscriptionList:
    require_admin(user, "manage webhooks")
    rows = await session.scalars(
        select(WebhookSubscription)
        .where(col(WebhookSubscription.tenant_id) == user.tenant_id)
        .order_by(col(WebhookSubscription.created_at).desc(), col(WebhookSubscription.id).desc())
    )
    return WebhookSubscriptionList(items=[_view(row) for row in rows])


async def get_subscription(
    session: AsyncSession, user: CurrentUser, subscription_id: uuid.UUID
) -> WebhookSubscriptionView:
    return _view(await _subscription(session, user, subscription_id))


async def create_subscription(
    session: AsyncSession,
    keyring: Keyring,
    user: CurrentUser,
    data: WebhookSubscriptionCreate,
    *,
    ip: str,
) -> WebhookSubscriptionCreated:
    """Save a subscription with a fresh secret; the answer is the only one that shows it."""
    require_admin(user, "manage webhooks")
    url = await _vetted(session, user, data.url)
    secret = new_secret()
    row = WebhookSubscription(
        tenant_id=user.tenant_id,
        url=url,
        description=data.description,
        event_types=data.event_types,
        secret_sealed=seal_secret(keyring, secret),
        is_active=data.is_active,
        created_by=user.id,
    )
    session.add(row)
    _audit(session, user, "created", row.id, ip, {"url": url, "event_types": data.event_types})
    await session.commit()
    log.info("webhook subscription created", subscription_id=str(row.id))
    return WebhookSubscriptionCreated(**_view(row).model_dump(), secret=secret)


async def update_subscription(
    session: AsyncSession,
    user: CurrentUser,
    subscription_id: uuid.UUID,
    data: WebhookSubscriptionUpdate,
    *,
    ip: str,
) -> WebhookSubscriptionView:
    require_admin(user, "manage webhooks")
    changes = data.model_dump(exclude_none=True)
    if "url" in changes:  # before the row is locked: resolving the host can take seconds
        changes["url"] = await _vetted(session, user, changes["url"])
    row = await _subscription(session, user, subscription_id, lock=True)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
    _audit(session, user, "updated", row.id, ip, changes)
    await session.commit()
    return _view(row)


async def delete_subscription(
    session: AsyncSession, user: CurrentUser, subscription_id: uuid.UUID, *, ip: str
) -> None:
    """Remove the subscription with its deliveries (and their history)."""
    row = await _subscription(session, user, subscription_id, lock=True)
    await session.execute(
        delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == row.id)
    )
    await session.delete(row)
    _audit(session, user, "deleted", row.id, ip, {"url": row.url})
    await session.commit()


async def rotate_secret(
    session: AsyncSession,
    keyring: Keyring,
    user: CurrentUser,
    subscription_id: uuid.UUID,
    *,
    ip: str,
) -> WebhookSecret:
    """Replace the secret; attempts from now on are signed with the new one."""
    row = await _subscription(session, user, subscription_id, lock=True)
    secret = new_secret()
    row.secret_sealed = seal_secret(keyring, secret)
    row.updated_at = datetime.now(UTC)
    _audit(session, user, "secret_rotated", row.id, ip)
    await session.commit()
    return WebhookSecret(subscription_id=row.id, secret=secret)


async def queue_ping(
    session: AsyncSession, user: CurrentUser, subscription_id: uuid.UUID, *, ip: str
) -> WebhookDeliveryView:
    """Queue a webhook.ping delivery, due now, so the admin can check the receiver; 409 for
    an inactive subscription (its deliveries are not sent)."""
    row = await _subscription(session, user, subscription_id, lock=True)
    if not row.is_active:
        raise ConflictError("the subscription is inactive: activate it to test it")
    event_id = uuid.uuid4()
    now = datetime.now(UTC)
    envelope = {
        "id": str(event_id),
        "type": PING_EVENT_TYPE,
        "version": 1,
        "occurred_at": now.isoformat(),
        "tenant_id": str(user.tenant_id),
        "correlation_id": str(event_id),
        "causation_id": None,
        "payload": {"subscription_id": str(row.id), "requested_by": str(user.id)},
    }
    ping = WebhookDelivery(
        tenant_id=user.tenant_id,
        subscription_id=row.id,
        event_id=event_id,
        event_type=PING_EVENT_TYPE,
        payload=envelope,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(ping)
    _audit(session, user, "tested", row.id, ip, {"delivery_id": str(ping.id)})
    await session.commit()
    return _delivery_view(ping)


async def list_deliveries(
    session: AsyncSession,
    user: CurrentUser,
    subscription_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> WebhookDeliveryList:
    """The subscription's deliveries, newest first, `limit` per page."""
    row = await _subscription(session, user, subscription_id)
    query = select(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == row.id)
    if cursor is not None:
        after = decode_key(cursor)
        query = query.where(
            tuple_(col(WebhookDelivery.created_at), col(WebhookDelivery.id))
            < tuple_(literal(after.at), literal(after.id))
        )
    rows = list(
        await session.scalars(
            query.order_by(
                col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc()
            ).limit(limit + 1)
        )
    )
    page = rows[:limit]
    next_cursor = (
        encode_key(KeyCursor(page[-1].created_at, page[-1].id)) if len(rows) > limit else None
    )
    return WebhookDeliveryList(items=[_delivery_view(d) for d in page], next_cursor=next_cursor)


async def redeliver(
    session: AsyncSession,
    user: CurrentUser,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    ip: str,
) -> WebhookDeliveryView:
    """Put a failed delivery back to pending, due now, with a fresh attempt count; 409 for
    one that has not failed."""
    row = await _subscription(session, user, subscription_id, lock=True)
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            col(WebhookDelivery.id) == delivery_id,
            col(WebhookDelivery.subscription_id) == row.id,
        )
    )
    if delivery is None:
        raise NotFoundError("webhook delivery not found")
    reset = await session.scalar(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery.id, col(WebhookDelivery.status) == "failed")
        .values(status="pending", attempts=0, next_attempt_at=datetime.now(UTC), claimed_at=None)
        .returning(WebhookDelivery)
        .execution_options(populate_existing=True)
    )
    if reset is None:
        raise ConflictError(
            f"only a failed delivery can be redelivered; this one is {delivery.status}"
        )
    _audit(session, user, "redelivered", row.id, ip, {"delivery_id": str(delivery.id)})
    await session.commit()
    return _delivery_view(reset)


async def webhook_settings(session: AsyncSession, user: CurrentUser) -> WebhookSettings:
    require_admin(user, "manage webhooks")
    return WebhookSettings(allow_private_targets=await _allows_private(session, user.tenant_id))


async def set_webhook_settings(
    session: AsyncSession, user: CurrentUser, wanted: WebhookSettings, *, ip: str
) -> WebhookSettings:
    """Store the tenant's private-target allowance (merged into its settings, nothing else
    changes). Turning it off refuses private URLs at their next attempt."""
    require_admin(user, "manage webhooks")
    await session.execute(
        update(Tenant)
        .where(col(Tenant.id) == user.tenant_id)
        .values(
            settings=col(Tenant.settings).op("||")(
                literal({ALLOW_PRIVATE_SETTING: wanted.allow_private_targets}, JSONB)
            )
        )
    )
    db.audit(
        session,
        user,
        action="webhook.settings_changed",
        object_type="tenant",
        object_id=user.tenant_id,
        ip=ip,
        detail={ALLOW_PRIVATE_SETTING: wanted.allow_private_targets},
    )
    await session.commit()
    return WebhookSettings(allow_private_targets=wanted.allow_private_targets)
