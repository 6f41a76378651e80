"""Recording one outbound.requested, in one transaction with its claim.

The consumer only records: the message is scheduled for `send_at`, but not
before the tenant's undo window has passed, and the sender (sender.py) takes
it from there. Idempotent twice over: on the event id (claim) and on the
outbound_id (the row's primary key, the request's idempotency key), so
neither a redelivery nor a re-request of the same outbound_id schedules a
second message.

A request naming an account that is not the tenant's cannot be recorded
(tenant and account are keys of the row): it is answered at once with a
permanent mail.failed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from postdesk_contracts import Envelope, EventType, MailFailed, OutboundRequested, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import claim_event, outbox_row
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_outbound import db
from postdesk_outbound.domain import (
    OutboundStatus,
    first_attempt_at,
    unknown_account_reason,
)
from postdesk_outbound.policy import usable_policy

SERVICE = "outbound"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OutboundOutcome:
    """What became of one event: None when it (or its outbound_id) was handled before."""

    status: OutboundStatus | None
    reason: str = ""
    emitted: bool = False
    next_attempt_at: datetime | None = None


async def handle_outbound(
    session: AsyncSession, event: Envelope[OutboundRequested], *, now: datetime | None = None
) -> OutboundOutcome:
    """Schedule the request, or refuse it with mail.failed when its account is not the tenant's."""
    if not await claim_event(session, SERVICE, event.id):
        return OutboundOutcome(None)
    now = now or datetime.now(UTC)
    request = event.payload
    account = await db.load_account(session, request.account_id)
    if account is None or (event.tenant_id is not None and account.tenant_id != event.tenant_id):
        reason = unknown_account_reason(account is not None)
        _emit_refusal(session, event, event.tenant_id, reason)
        log.warning("outbound request refused", reason=reason)
        return OutboundOutcome(OutboundStatus.FAILED, reason, emitted=True)
    policy, policy_error = usable_policy(account.tenant_settings)
    if policy_error:
        log.warning("unusable outbound settings; using defaults", reason=policy_error)
    due = first_attempt_at(now, request.send_at, policy.undo_seconds)
    if not await db.record_request(
        session, tenant_id=account.tenant_id, event=event, next_attempt_at=due, now=now
    ):
        return OutboundOutcome(None)
    log.info(
        "outbound request scheduled", outbound_id=str(request.outbound_id), due=due.isoformat()
    )
    return OutboundOutcome(OutboundStatus.SCHEDULED, next_attempt_at=due)


def _emit_refusal(
    session: AsyncSession,
    event: Envelope[OutboundRequested],
    tenant_id: uuid.UUID | None,
    reason: str,
) -> None:
    request = event.payload
    failed = new_envelope(
        EventType.MAIL_FAILED,
        MailFailed(
            outbound_id=request.outbound_id,
            account_id=request.account_id,
            ticket_id=request.ticket_id,
            reason=reason,
            permanent=True,
        ),
        tenant_id=tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.MAIL_FAILED.value),
    )
    session.add(outbox_row(SERVICE, failed))
