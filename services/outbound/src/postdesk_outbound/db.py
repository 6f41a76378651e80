"""The outbound service's queries: it reads tenants and accounts and owns `outbound_messages`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from postdesk_contracts import OutboundRequested
from postdesk_schema import EmailAccount, OutboundMessage, Tenant
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_outbound.domain import Delivery


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


async def record_outbound(
    session: AsyncSession, tenant_id: uuid.UUID, request: OutboundRequested, delivery: Delivery
) -> bool:
    """Insert the request's row once per outbound_id; False if it was already recorded."""
    now = datetime.now(UTC)
    inserted = await session.execute(
        insert(OutboundMessage)
        .values(
            id=request.outbound_id,
            tenant_id=tenant_id,
            account_id=request.account_id,
            ticket_id=request.ticket_id,
            kind=request.kind,
            status=delivery.status.value,
            to=[a.model_dump(mode="json") for a in request.to],
            subject=request.subject,
            failure_reason=delivery.failure_reason,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(col(OutboundMessage.id))
    )
    return inserted.scalar_one_or_none() is not None
