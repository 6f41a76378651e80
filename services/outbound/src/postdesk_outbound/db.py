"""The outbound service's queries. Every function runs inside the caller's transaction.

The service reads tenants and accounts and owns `outbound_messages`. Each
change of a row's status is a conditional UPDATE on the status it leaves
(domain.py draws the states), and every change made on behalf of a claim is
also conditional on that claim (`Claim.guard`): a sender whose claim was
recovered from under it (it outlived the lease) changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from postdesk_contracts import Envelope, OutboundRequested
from postdesk_schema import EmailAccount, OutboundMessage, Tenant
from sqlalchemy import ColumnElement, and_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_outbound.domain import OutboundStatus, log_entry

# A literal, not bind parameters, so that generic (prepared) plans can use the partial indexes.
_DUE_STATUSES = text("outbound_messages.status IN ('scheduled', 'retrying')")
_SENDING = text("outbound_messages.status = 'sending'")
_SENT = text("outbound_messages.status = 'sent'")


@dataclass(frozen=True)
class AccountInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_settings: dict[str, Any]


async def load_account(session: AsyncSession, account_id: uuid.UUID) -> AccountInfo | None:
    """The account with its tenant's settings."""
    row = (
        await session.execute(
            select(col(EmailAccount.id), col(EmailAccount.tenant_id), col(Tenant.settings))
            .join(Tenant, col(Tenant.id) == col(EmailAccount.tenant_id))
            .where(col(EmailAccount.id) == account_id)
        )
    ).first()
    return AccountInfo(row.id, row.tenant_id, dict(row.settings or {})) if row else None


async def tenant_settings(
    session: AsyncSession, tenant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await session.execute(
        select(col(Tenant.id), col(Tenant.settings)).where(col(Tenant.id).in_(tenant_ids))
    )
    return {row.id: dict(row.settings or {}) for row in rows}


async def record_request(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    event: Envelope[OutboundRequested],
    next_attempt_at: datetime,
    now: datetime,
) -> bool:
    """Schedule the request once per outbound_id (its idempotency key); False if already recorded.

    The first attempt_log entry keeps the requesting event's id and
    correlation id, so the events the sender emits later continue its trace.
    """
    request = event.payload
    requested = log_entry(
        now,
        "requested",
        f"{request.kind} requested",
        event_id=str(event.id),
        correlation_id=str(event.correlation_id),
    )
    inserted = await session.execute(
        insert(OutboundMessage)
        .values(
            id=request.outbound_id,
            tenant_id=tenant_id,
            account_id=request.account_id,
            ticket_id=request.ticket_id,
            kind=request.kind,
            status=OutboundStatus.SCHEDULED.value,
            to=[a.model_dump(mode="json") for a in request.to],
            subject=request.subject,
            message_id_header=request.message_id,
            attempts=0,
            request=request.model_dump(mode="json", by_alias=True),
            requested_by=request.requested_by,
            next_attempt_at=next_attempt_at,
            attempt_log=[requested],
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(col(OutboundMessage.id))
    )
    return inserted.scalar_one_or_none() is not None


class CancelledOutbound(NamedTuple):
    account_id: uuid.UUID
    ticket_id: uuid.UUID | None


async def cancel(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    outbound_id: uuid.UUID,
    cancelled_by: uuid.UUID | None,
    now: datetime | None = None,
) -> CancelledOutbound | None:
    """Undo a message that is still scheduled; None when it is not (sending, sent, gone, another tenant's).

    The caller emits outbound.cancelled in the same transaction. A message
    the sender has claimed is no longer `scheduled`, so it cannot be both
    cancelled and sent.
    """
    now = now or datetime.now(UTC)
    row = (
        await session.execute(
            update(OutboundMessage)
            .where(
                col(OutboundMessage.id) == outbound_id,
                col(OutboundMessage.tenant_id) == tenant_id,
                col(OutboundMessage.status) == OutboundStatus.SCHEDULED.value,
            )
            .values(
                status=OutboundStatus.CANCELLED.value,
                next_attempt_at=None,
                updated_at=now,
                attempt_log=_appended(
                    log_entry(
                        now,
                        "cancelled",
                        "undone before sending",
                        by=str(cancelled_by) if cancelled_by else None,
                    )
                ),
            )
            .returning(col(OutboundMessage.account_id), col(OutboundMessage.ticket_id))
        )
    ).first()
    return CancelledOutbound(row.account_id, row.ticket_id) if row else None


def _appended(entry: dict[str, Any]) -> ColumnElement[Any]:
    """attempt_log with `entry` added at its end."""
    return col(OutboundMessage.attempt_log).op("||")(bindparam(None, [entry], type_=JSONB))


# ---- the sender's claims ----------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A row the sender took for one attempt (status `sending`)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    account_id: uuid.UUID
    ticket_id: uuid.UUID | None
    requested_by: uuid.UUID | None
    request: dict[str, Any]
    attempts: int
    claimed_at: datetime
    transmitting_at: datetime | None
    attempt_log: list[dict[str, Any]]

    def guard(self) -> ColumnElement[bool]:
        """True for the row only while this claim holds it."""
        return and_(
            col(OutboundMessage.id) == self.id,
            col(OutboundMessage.status) == OutboundStatus.SENDING.value,
            col(OutboundMessage.attempts) == self.attempts,
            col(OutboundMessage.claimed_at) == self.claimed_at,
        )


_CLAIM_COLUMNS = (
    col(OutboundMessage.id),
    col(OutboundMessage.tenant_id),
    col(OutboundMessage.account_id),
    col(OutboundMessage.ticket_id),
    col(OutboundMessage.requested_by),
    col(OutboundMessage.request),
    col(OutboundMessage.attempts),
    col(OutboundMessage.claimed_at),
    col(OutboundMessage.transmitting_at),
    col(OutboundMessage.attempt_log),
)


def _claim(row: Any) -> Claim:
    return Claim(
        id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        ticket_id=row.ticket_id,
        requested_by=row.requested_by,
        request=dict(row.request),
        attempts=row.attempts,
        claimed_at=row.claimed_at,
        transmitting_at=row.transmitting_at,
        attempt_log=list(row.attempt_log),
    )


async def claim_due(session: AsyncSession, *, now: datetime, batch: int) -> list[Claim]:
    """Take up to `batch` due messages for an attempt: scheduled/retrying -> sending, attempts + 1.

    `FOR UPDATE SKIP LOCKED` gives each row to one sender; the status
    condition is re-checked on the locked row, so a message cancelled (or
    claimed) in the meantime is not taken.
    """
    due = (
        select(col(OutboundMessage.id))
        .where(_DUE_STATUSES, col(OutboundMessage.next_attempt_at) <= now)
        .order_by(col(OutboundMessage.next_attempt_at))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(OutboundMessage)
        .where(col(OutboundMessage.id).in_(due.scalar_subquery()))
        .values(
            status=OutboundStatus.SENDING.value,
            claimed_at=now,
            transmitting_at=None,
            attempts=col(OutboundMessage.attempts) + 1,
            updated_at=now,
        )
        .returning(*_CLAIM_COLUMNS)
    )
    return [_claim(row) for row in rows]


async def claim_stalled(
    session: AsyncSession, *, claimed_before: datetime, batch: int
) -> list[Claim]:
    """Lock up to `batch` messages left in `sending` by a sender that stopped (claim older than the lease)."""
    rows = await session.execute(
        select(*_CLAIM_COLUMNS)
        .where(
            _SENDING,
            col(OutboundMessage.claimed_at) < claimed_before,
        )
        .order_by(col(OutboundMessage.claimed_at))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return [_claim(row) for row in rows]


async def mark_transmitting(
    session: AsyncSession,
    claim: Claim,
    *,
    now: datetime,
    raw_blob_ref: str,
    message_id: str,
) -> bool:
    """Note that the SMTP transaction is about to hand over the message; False if the claim was lost."""
    result = await session.execute(
        update(OutboundMessage)
        .where(claim.guard())
        .values(
            transmitting_at=now,
            raw_blob_ref=raw_blob_ref,
            message_id_header=message_id,
            updated_at=now,
        )
        .returning(col(OutboundMessage.id))
    )
    return result.scalar_one_or_none() is not None


async def settle(
    session: AsyncSession,
    claim: Claim,
    status: OutboundStatus,
    *,
    now: datetime,
    entry: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """End the claim in `status` with `values` and one more attempt_log `entry`; False if the claim was lost."""
    changes: dict[str, Any] = {"status": status.value, "updated_at": now, **values}
    if status is not OutboundStatus.RETRYING:
        changes.setdefault("next_attempt_at", None)
    if entry is not None:
        changes["attempt_log"] = _appended(entry)
    result = await session.execute(
        update(OutboundMessage)
        .where(claim.guard())
        .values(**changes)
        .returning(col(OutboundMessage.id))
    )
    return result.scalar_one_or_none() is not None
