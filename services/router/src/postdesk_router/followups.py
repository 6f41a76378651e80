"""What the router learns from other services' events about its tickets.

- outbound.requested: a message we send is stored on its ticket (direction
  outbound) under the Message-ID it will carry, so answers to it thread by
  In-Reply-To/References like answers to any stored message, and early
  answers routed before it are merged in. An agent's reply stops the
  first-response clock. The row's id is `outbound_message_row_id(outbound_id)`,
  known to the requester in advance (a composed ticket's first_message_id).
- mail.sent, mail.failed, outbound.cancelled: the outbound message's
  delivery status (sent with the sent copy's blob, failed with the reason,
  cancelled when undone).
- ticket.updated from an agent (the gateway): status and priority changes
  pause, resume, stop or re-plan the SLA clocks. The router's own
  ticket.updated events (no actor) were applied when it emitted them.

Each handler claims its event first, so a redelivery changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from postdesk_contracts import (
    Envelope,
    MailFailed,
    MailSent,
    OutboundCancelled,
    OutboundRequested,
    TicketUpdated,
)
from postdesk_contracts.addressing import (
    domain_of,
    outbound_message_id,
    outbound_message_row_id,
)
from postdesk_runtime import Sessions, claim_event
from postdesk_schema import EmailAccount, Message
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_router import db, merge_db, sla_db, undo
from postdesk_router.domain import normalise_message_id, pg_text
from postdesk_router.merge import absorb_early_replies

SERVICE = "router"
AGENT_KINDS = frozenset({"reply", "compose"})

log = structlog.get_logger(__name__)


async def record_outbound(sessions: Sessions, event: Envelope[OutboundRequested]) -> bool:
    """Store the requested message on its ticket; True when something was written."""
    async with sessions() as session, session.begin():
        if not await claim_event(session, SERVICE, event.id):
            return False
        return await _record_outbound(session, event)


async def _record_outbound(session: AsyncSession, event: Envelope[OutboundRequested]) -> bool:
    request = event.payload
    tenant_id = event.tenant_id
    if request.ticket_id is None or tenant_id is None:
        return False  # mail outside any ticket: nothing to thread
    if await db.tenant_ticket(session, tenant_id, request.ticket_id) is None:
        log.warning("outbound request names a ticket of no such tenant; not recorded")
        return False
    account_address = await _account_address(session, tenant_id, request.account_id)
    if account_address is None:
        log.warning("outbound request names an account of no such tenant; not recorded")
        return False
    message_id = request.message_id or outbound_message_id(
        request.outbound_id, domain_of(account_address)
    )
    await db.lock_message_ids(session, tenant_id, [message_id])
    if await db.find_message(session, tenant_id, message_id) is not None:
        return False
    ticket_id = await merge_db.live_ticket(session, request.ticket_id)
    now = datetime.now(UTC)
    references = list(dict.fromkeys(filter(None, map(normalise_message_id, request.references))))
    row = Message(
        id=outbound_message_row_id(request.outbound_id),  # a composed ticket's first_message_id
        tenant_id=tenant_id,
        ticket_id=ticket_id,
        account_id=request.account_id,
        direction="outbound",
        message_id_header=message_id,
        in_reply_to=[request.in_reply_to] if request.in_reply_to else [],
        references=references,
        subject=pg_text(request.subject),
        from_email=account_address,
        to=[{"name": pg_text(a.name), "email": a.email} for a in request.to],
        cc=[{"name": pg_text(a.name), "email": a.email} for a in request.cc],
        text_body=pg_text(request.text),
        text_preview=pg_text(request.text[:500]),
        match_rule=f"outbound:{request.kind}",
        outbound_id=request.outbound_id,
        delivery_status="scheduled" if request.send_at else "requested",
        sent_at=now,
    )
    session.add(row)
    await session.flush()
    await db.add_message_to_ticket(session, ticket_id, now)
    await absorb_early_replies(session, tenant_id, message_id, ticket_id)
    by_agent = request.kind in AGENT_KINDS and request.requested_by is not None
    if by_agent:
        await db.note_activity(session, ticket_id, event.occurred_at, by_staff=True)
        await sla_db.on_agent_reply(session, ticket_id=ticket_id, at=event.occurred_at)
    db.history(
        session,
        tenant_id=tenant_id,
        ticket_id=ticket_id,
        kind="outbound",
        rule=request.kind,
        detail=f"{request.kind} from {account_address} to "
        f"{', '.join(a.email for a in request.to)} requested",
        message_id=row.id,
        event_id=event.id,
    )
    return True


async def _account_address(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> str | None:
    return (
        await session.execute(
            select(col(EmailAccount.address)).where(
                col(EmailAccount.id) == account_id, col(EmailAccount.tenant_id) == tenant_id
            )
        )
    ).scalar_one_or_none()


async def record_failure(sessions: Sessions, event: Envelope[MailFailed]) -> bool:
    """Mark the outbound message failed with the reason; True when a message was marked."""
    failure = event.payload
    status = "failed" if failure.permanent else "deferred"
    return await _delivery(
        sessions, event, failure.outbound_id, status, pg_text(failure.reason), "delivery"
    )


async def record_sent(sessions: Sessions, event: Envelope[MailSent]) -> bool:
    """Mark the outbound message sent; True when a message was marked."""
    sent = event.payload
    return await _delivery(
        sessions, event, sent.outbound_id, "sent", pg_text(sent.smtp_response), "delivery"
    )


async def record_cancelled(sessions: Sessions, event: Envelope[OutboundCancelled]) -> bool:
    """Mark the outbound message cancelled (undone before it was sent) and close a ticket left
    with nothing but undone mail (undo.py, which may emit ticket.updated); True when marked."""

    async def close_if_all_undone(session: AsyncSession, ticket_id: uuid.UUID) -> None:
        await undo.close_if_all_undone(session, event, ticket_id)

    return await _delivery(
        sessions,
        event,
        event.payload.outbound_id,
        "cancelled",
        "undone before sending",
        "delivery",
        then=close_if_all_undone,
    )


# A status never goes back from these: a late "sent" cannot undo a bounce.
_FINAL = ["bounced", "failed", "cancelled"]


async def _delivery(
    sessions: Sessions,
    event: Envelope[Any],
    outbound_id: uuid.UUID,
    status: str,
    detail: str,
    kind: str,
    *,
    then: Callable[[AsyncSession, uuid.UUID], Awaitable[None]] | None = None,
) -> bool:
    """Set the delivery status of our message; `then(session, ticket_id)` runs in the same
    transaction after a message was marked."""
    async with sessions() as session, session.begin():
        if not await claim_event(session, SERVICE, event.id) or event.tenant_id is None:
            return False
        marked = await session.execute(
            update(Message)
            .where(
                col(Message.tenant_id) == event.tenant_id,
                col(Message.outbound_id) == outbound_id,
                col(Message.delivery_status).not_in(_FINAL),
            )
            .values(
                delivery_status=status,
                delivery_failure=detail if status in ("failed", "deferred") else "",
            )
            .returning(col(Message.id), col(Message.ticket_id))
        )
        row = marked.first()
        if row is None:
            return False
        db.history(
            session,
            tenant_id=event.tenant_id,
            ticket_id=row.ticket_id,
            kind=kind,
            rule=status,
            detail=detail,
            message_id=row.id,
            event_id=event.id,
        )
        if then is not None:
            await then(session, row.ticket_id)
        return True


async def apply_ticket_update(sessions: Sessions, event: Envelope[TicketUpdated]) -> bool:
    """Re-plan the SLA clocks after an agent's status or priority change."""
    update_ = event.payload
    if update_.actor_id is None:
        return False  # the router's own change, applied when it was made
    async with sessions() as session, session.begin():
        if not await claim_event(session, SERVICE, event.id):
            return False
        if event.tenant_id is None or (
            await db.tenant_ticket(session, event.tenant_id, update_.ticket_id) is None
        ):
            return False
        for change in update_.changes:
            if change.field == "status" and change.old and change.new:
                await sla_db.on_status_change(
                    session,
                    ticket_id=update_.ticket_id,
                    old=change.old,
                    new=change.new,
                    at=event.occurred_at,
                )
            elif change.field == "priority" and change.new:
                await sla_db.on_priority_change(
                    session, ticket_id=update_.ticket_id, priority=change.new, at=event.occurred_at
                )
        return True
