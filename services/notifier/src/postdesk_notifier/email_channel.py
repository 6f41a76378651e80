"""The email channel: a periodic job mails notifications whose grouping window has closed.

Each run claims due rows (`email_status = 'pending' AND email_due_at <= now`)
with `FOR UPDATE SKIP LOCKED`, so replicas share the work and each row is
mailed by one. In the same transaction, per row, it either writes
outbound.requested to the outbox and marks the row `sent`
(`email_outbound_id`), or marks it `skipped` with the reason:
- the user is no longer active;
- the login address would loop into postdesk (`loopsafe.loop_risk`);
- the tenant has no active account to send from. The sender is the account
  named by tenants.settings["notifications_from_account_id"] when that is
  an active account of the tenant, else the ticket's account when active.
Grouping keeps folding events into a row until its window closes, which is
when the row falls due, so the mail states the final count.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from postdesk_contracts import EventType, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import Sessions, outbox_row
from postdesk_schema import EmailAccount, Notification
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_notifier.domain import clip
from postdesk_notifier.email_text import EmailFacts, notification_request
from postdesk_notifier.grouping import EMAIL_PENDING, EMAIL_SENT, EMAIL_SKIPPED
from postdesk_notifier.loopsafe import loop_risk

SERVICE = "notifier"
FROM_ACCOUNT_SETTING = "notifications_from_account_id"
DEFAULT_BATCH = 200

log = structlog.get_logger(__name__)

# The literal 'pending' matches the partial index ix_notifications_email_due in generic plans.
CLAIM_DUE = text(
    """
    SELECT n.id, n.tenant_id, n.title, n.body, n.event_count, n.ticket_id,
           u.email AS user_email, u.full_name AS user_name, u.is_active AS user_active,
           k.number AS ticket_number, k.subject AS ticket_subject, k.account_id,
           t.settings AS tenant_settings
    FROM notifications n
    JOIN users u ON u.id = n.user_id
    JOIN tenants t ON t.id = n.tenant_id
    LEFT JOIN tickets k ON k.id = n.ticket_id
    WHERE n.email_status = 'pending' AND n.email_due_at <= :now
    ORDER BY n.email_due_at
    LIMIT :batch
    FOR UPDATE OF n SKIP LOCKED
    """
)


async def send_due_emails(
    sessions: Sessions,
    *,
    app_url: str = "",
    batch: int = DEFAULT_BATCH,
    now: datetime | None = None,
) -> int:
    """Mail or skip up to `batch` due notifications; the number handled (wake the relay)."""
    now = now or datetime.now(UTC)
    async with sessions() as session, session.begin():
        rows = (await session.execute(CLAIM_DUE, {"now": now, "batch": batch})).all()
        for row in rows:
            await _email_one(session, row, app_url=app_url)
    return len(rows)


async def _email_one(session: AsyncSession, row: Any, *, app_url: str) -> None:
    reason = await _refusal(session, row)
    account_id = await sending_account(session, row) if reason is None else None
    if account_id is None:
        reason = reason or "the tenant has no active email account to send notifications from"
        await _mark(session, row.id, email_status=EMAIL_SKIPPED, email_skip_reason=reason)
        log.info("notification email skipped", notification_id=str(row.id), reason=reason)
        return
    request = notification_request(
        EmailFacts(
            notification_id=row.id,
            title=row.title,
            body=row.body,
            event_count=row.event_count,
            ticket_id=row.ticket_id,
            ticket_number=row.ticket_number,
            ticket_subject=row.ticket_subject or "",
            user_name=clip(row.user_name),
            user_email=row.user_email,
        ),
        account_id=account_id,
        app_url=app_url,
    )
    envelope = new_envelope(
        EventType.OUTBOUND_REQUESTED,
        request,
        tenant_id=row.tenant_id,
        event_id=derived_event_id(request.outbound_id, EventType.OUTBOUND_REQUESTED.value),
    )
    session.add(outbox_row(SERVICE, envelope))
    await _mark(session, row.id, email_status=EMAIL_SENT, email_outbound_id=request.outbound_id)


async def _refusal(session: AsyncSession, row: Any) -> str | None:
    if not row.user_active:
        return "the user is not active"
    risk = await loop_risk(session, row.tenant_id, row.user_email)
    return f"would loop into postdesk: {risk}" if risk else None


async def sending_account(session: AsyncSession, row: Any) -> uuid.UUID | None:
    """The tenant's configured notification account if active, else the ticket's if active."""
    settings = row.tenant_settings or {}
    candidates = [_uuid(settings.get(FROM_ACCOUNT_SETTING)), row.account_id]
    wanted = [c for c in candidates if c is not None]
    if not wanted:
        return None
    active = set(
        (
            await session.execute(
                select(col(EmailAccount.id)).where(
                    col(EmailAccount.id).in_(wanted),
                    col(EmailAccount.tenant_id) == row.tenant_id,
                    col(EmailAccount.is_active),
                )
            )
        ).scalars()
    )
    return next((c for c in wanted if c in active), None)


async def _mark(session: AsyncSession, notification_id: uuid.UUID, **values: Any) -> None:
    await session.execute(
        update(Notification)
        .where(
            col(Notification.id) == notification_id,
            col(Notification.email_status) == EMAIL_PENDING,
        )
        .values(**values)
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        log.warning("unusable notifications_from_account_id setting", value=str(value))
        return None
