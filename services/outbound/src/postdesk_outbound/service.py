"""Handling one outbound.requested, in one transaction with its claim and outbox row.

Idempotent twice over: on the event id (claim) and on the outbound_id (the
row's primary key), so neither a redelivery nor a re-request of the same
outbound_id records or announces a second result.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from postdesk_contracts import Envelope, EventType, MailFailed, OutboundRequested, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import claim_event, outbox_row
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_outbound import db
from postdesk_outbound.domain import OutboundStatus, decide_delivery, unknown_account_reason

SERVICE = "outbound"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OutboundOutcome:
    status: OutboundStatus | None
    reason: str = ""
    emitted: bool = False


async def handle_outbound(
    session: AsyncSession, event: Envelope[OutboundRequested]
) -> OutboundOutcome:
    """Record the request and its result; emit mail.failed when it cannot be sent."""
    if not await claim_event(session, SERVICE, event.id):
        return OutboundOutcome(None)
    request = event.payload
    account = await db.load_account(session, request.account_id)
    if account is None or (event.tenant_id is not None and account.tenant_id != event.tenant_id):
        # Without an account of the tenant there is no row to write (tenant and account are keys).
        reason = unknown_account_reason(account is not None)
        _emit_failed(session, event, event.tenant_id, reason, permanent=True)
        log.warning("outbound request refused", reason=reason)
        return OutboundOutcome(OutboundStatus.FAILED, reason, emitted=True)
    delivery = decide_delivery(account.tenant_settings)
    if not await db.record_outbound(session, account.tenant_id, request, delivery):
        return OutboundOutcome(None)
    _emit_failed(
        session, event, account.tenant_id, delivery.failure_reason, permanent=delivery.permanent
    )
    log.info(
        "outbound request failed", reason=delivery.failure_reason, permanent=delivery.permanent
    )
    return OutboundOutcome(delivery.status, delivery.failure_reason, emitted=True)


def _emit_failed(
    session: AsyncSession,
    event: Envelope[OutboundRequested],
    tenant_id: uuid.UUID | None,
    reason: str,
    *,
    permanent: bool,
) -> None:
    request = event.payload
    failed = new_envelope(
        EventType.MAIL_FAILED,
        MailFailed(
            outbound_id=request.outbound_id,
            account_id=request.account_id,
            ticket_id=request.ticket_id,
            reason=reason,
            permanent=permanent,
        ),
        tenant_id=tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.MAIL_FAILED.value),
    )
    session.add(outbox_row(SERVICE, failed))
