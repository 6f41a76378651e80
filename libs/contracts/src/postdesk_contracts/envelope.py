"""The envelope every event travels in.

Invariants:
- `id` is unique per event; consumers deduplicate on it. A producer that may
  emit the same logical event twice (a redelivered input) derives `id`
  deterministically (`uuid5`) so the duplicate carries the same id.
- `type` is the routing key on the events exchange.
- `correlation_id` is the id of the first event of a flow (the
  mail.received of an email); `causation_id` the id of the event that
  directly caused this one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    """Routing keys of every event postdesk publishes."""

    MAIL_RECEIVED = "mail.received"
    MAIL_PARSED = "mail.parsed"
    MAIL_REJECTED = "mail.rejected"
    TICKET_CREATED = "ticket.created"
    TICKET_ASSIGNED = "ticket.assigned"
    TICKET_MESSAGE_ADDED = "ticket.message_added"
    TICKET_UPDATED = "ticket.updated"
    TICKET_NOTE_ADDED = "ticket.note_added"
    SLA_WARNING = "sla.warning"
    SLA_BREACHED = "sla.breached"
    OUTBOUND_REQUESTED = "outbound.requested"
    OUTBOUND_CANCELLED = "outbound.cancelled"
    MAIL_SENT = "mail.sent"
    MAIL_FAILED = "mail.failed"
    NOTIFICATION_CREATED = "notification.created"


class Payload(BaseModel):
    """Base of every payload: frozen, and tolerant of fields added later."""

    model_config = ConfigDict(frozen=True, extra="ignore")


P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    """One event: metadata plus a typed payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    type: EventType
    version: int = 1
    occurred_at: datetime
    tenant_id: uuid.UUID | None = Field(
        default=None, description="None only before the router has resolved the tenant"
    )
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    payload: P


def new_envelope(
    event_type: EventType,
    payload: P,
    *,
    tenant_id: uuid.UUID | None = None,
    caused_by: Envelope[Any] | None = None,
    event_id: uuid.UUID | None = None,
    version: int = 1,
) -> Envelope[P]:
    """Wrap `payload`, inheriting the correlation from the causing event."""
    own_id = event_id or uuid.uuid4()
    # Parametrised at run time so the payload serialises with its own fields, not the bound's.
    model: Any = Envelope.__class_getitem__(type(payload))
    return cast(
        "Envelope[P]",
        model(
            id=own_id,
            type=event_type,
            version=version,
            occurred_at=datetime.now(UTC),
            tenant_id=tenant_id
            if tenant_id is not None
            else (caused_by.tenant_id if caused_by else None),
            correlation_id=caused_by.correlation_id if caused_by else own_id,
            causation_id=caused_by.id if caused_by else None,
            payload=payload,
        ),
    )


def derived_event_id(cause_id: uuid.UUID, name: str) -> uuid.UUID:
    """A stable id for the event `name` caused by `cause_id`, the same on every redelivery."""
    return uuid.uuid5(cause_id, name)
