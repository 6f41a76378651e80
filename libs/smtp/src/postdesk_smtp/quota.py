"""Sending quotas, counted the one way both the gateway (which refuses a request up front
with a 429) and the outbound service (which defers a message) count them.

The rule is in postdesk_contracts.outbound_policy: mails sent (`outbound_messages`
with status sent, by `sent_at`) in a rolling window; a window is full while its
limit-th most recent send is inside it. The status condition is a literal so that
prepared plans can use the partial indexes on sent_at (schema 0007).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from postdesk_contracts.outbound_policy import DAY, MINUTE, Quota
from postdesk_schema import OutboundMessage
from sqlalchemy import ColumnElement, and_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

_SENT = text("outbound_messages.status = 'sent'")


@dataclass(frozen=True)
class QuotaBlock:
    """A full quota: which one, its limit and window, and when a slot frees."""

    name: str
    limit: int
    window: timedelta
    until: datetime

    def describe(self) -> str:
        return f"quota {self.name} ({self.limit}) reached until {self.until.isoformat()}"


async def quota_block(
    session: AsyncSession,
    quota: Quota,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    requested_by: uuid.UUID | None,
    now: datetime,
) -> QuotaBlock | None:
    """The quota that stops one more message from going out now, or None.

    Each quota counts the messages sent (`sent_at`) in a rolling window
    ending now (postdesk_contracts.outbound_policy): per user and per
    account over the last 24 hours, per tenant over the last minute. When
    several are full, the one that frees last is returned.
    """
    checks: list[tuple[str, int, timedelta, ColumnElement[bool]]] = [
        (
            "per_account_per_day",
            quota.per_account_per_day,
            DAY,
            col(OutboundMessage.account_id) == account_id,
        ),
        (
            "per_tenant_per_minute",
            quota.per_tenant_per_minute,
            MINUTE,
            col(OutboundMessage.tenant_id) == tenant_id,
        ),
    ]
    if requested_by is not None:
        checks.append(
            (
                "per_user_per_day",
                quota.per_user_per_day,
                DAY,
                and_(
                    col(OutboundMessage.tenant_id) == tenant_id,
                    col(OutboundMessage.requested_by) == requested_by,
                ),
            )
        )
    blocks: list[QuotaBlock] = []
    for name, limit, window, scope in checks:
        if limit <= 0:
            continue
        # The limit-th most recent send: while it is inside the window, the window is full.
        oldest_counted = (
            await session.execute(
                select(col(OutboundMessage.sent_at))
                .where(
                    scope,
                    _SENT,
                    col(OutboundMessage.sent_at) > now - window,
                    col(OutboundMessage.sent_at) <= now,
                )
                .order_by(col(OutboundMessage.sent_at).desc())
                .offset(limit - 1)
                .limit(1)
            )
        ).scalar_one_or_none()
        if oldest_counted is not None:
            blocks.append(QuotaBlock(name, limit, window, oldest_counted + window))
    return max(blocks, key=lambda b: b.until) if blocks else None
