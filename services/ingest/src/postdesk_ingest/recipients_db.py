"""Queries of the recipient directory and the "rejected" rows of the ingest log.

Reads tenancy tables (email_accounts, inbound_addresses, inbound_domains),
which ingest never writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from postdesk_runtime.processing_log import append_processing_log
from postdesk_schema import EmailAccount, InboundAddress, InboundDomain
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_ingest.db import STAGE

REJECTED = "rejected"

# address or domain -> (tenant id, account id)
Targets = dict[str, tuple[uuid.UUID, uuid.UUID]]


async def active_accounts(session: AsyncSession, addresses: Sequence[str]) -> Targets:
    """Active email accounts among `addresses`."""
    if not addresses:
        return {}
    rows = await session.execute(
        select(col(EmailAccount.address), col(EmailAccount.tenant_id), col(EmailAccount.id)).where(
            col(EmailAccount.address).in_(addresses), col(EmailAccount.is_active).is_(True)
        )
    )
    return {row.address: (row.tenant_id, row.id) for row in rows}


async def active_inbound_addresses(session: AsyncSession, addresses: Sequence[str]) -> Targets:
    """Active inbound addresses among `addresses` whose account is active too."""
    if not addresses:
        return {}
    rows = await session.execute(
        select(col(InboundAddress.address), col(InboundAddress.tenant_id), col(EmailAccount.id))
        .join(EmailAccount, col(EmailAccount.id) == col(InboundAddress.account_id))
        .where(
            col(InboundAddress.address).in_(addresses),
            col(InboundAddress.is_active).is_(True),
            col(EmailAccount.is_active).is_(True),
        )
    )
    return {row.address: (row.tenant_id, row.id) for row in rows}


async def catch_alls(session: AsyncSession, domains: Sequence[str]) -> Targets:
    """Inbound domains among `domains` that have an active catch-all account."""
    if not domains:
        return {}
    rows = await session.execute(
        select(col(InboundDomain.domain), col(InboundDomain.tenant_id), col(EmailAccount.id))
        .join(EmailAccount, col(EmailAccount.id) == col(InboundDomain.catch_all_account_id))
        .where(col(InboundDomain.domain).in_(domains), col(EmailAccount.is_active).is_(True))
    )
    return {row.domain: (row.tenant_id, row.id) for row in rows}


async def record_rejected(
    session: AsyncSession,
    *,
    dedupe_key: str,
    sha256: str,
    raw_blob_ref: str,
    detail: str,
) -> None:
    """Record a stored but refused mail; an existing row of the same key is left as it is."""
    await append_processing_log(
        session,
        stage=STAGE,
        dedupe_key=dedupe_key,
        status=REJECTED,
        sha256=sha256,
        raw_blob_ref=raw_blob_ref,
        detail=detail,
    )
