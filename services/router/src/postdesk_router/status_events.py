"""A status the router changed itself: its ticket.updated and its history line, together."""

from __future__ import annotations

import uuid
from typing import Any

from postdesk_contracts import Envelope, EventType, TicketChange, TicketUpdated, new_envelope
from postdesk_contracts.envelope import derived_event_id
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_router import db


def status_changed(
    session: AsyncSession,
    cause: Envelope[Any],
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    ticket_id: uuid.UUID,
    old: str,
    new: str,
    rule: str,
    reason: str,
) -> Envelope[TicketUpdated]:
    """The ticket.updated (id derived from `cause`, no actor: a rule changed it) and the
    ticket's history row saying why; the caller puts the event in the outbox."""
    updated = new_envelope(
        EventType.TICKET_UPDATED,
        TicketUpdated(
            ticket_id=ticket_id,
            account_id=account_id,
            changes=[TicketChange(field="status", old=old, new=new)],
            rule=rule,
            reason=reason,
        ),
        tenant_id=tenant_id,
        caused_by=cause,
        event_id=derived_event_id(cause.id, EventType.TICKET_UPDATED.value),
    )
    db.history(
        session,
        tenant_id=tenant_id,
        ticket_id=ticket_id,
        kind="status",
        rule=rule,
        detail=reason,
        event_id=updated.id,
    )
    return updated
