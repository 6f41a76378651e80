"""The ingest stage of the email processing log: one row per dedupe key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from postdesk_runtime.processing_log import append_processing_log
from postdesk_schema.logs import EmailProcessingLog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

STAGE = "ingest"
STORED = "stored"
PUBLISHED = "published"


async def record_stored(
    session: AsyncSession,
    *,
    dedupe_key: str,
    sha256: str,
    raw_blob_ref: str,
    event_id: uuid.UUID,
    detail: str,
) -> str:
    """Insert the row as "stored" unless it exists; return the row's status either way."""
    await append_processing_log(
        session,
        stage=STAGE,
        dedupe_key=dedupe_key,
        status=STORED,
        sha256=sha256,
        raw_blob_ref=raw_blob_ref,
        event_id=event_id,
        detail=detail,
    )
    status = await session.scalar(
        select(EmailProcessingLog.status).where(
            EmailProcessingLog.stage == STAGE, EmailProcessingLog.dedupe_key == dedupe_key
        )
    )
    return status or STORED


async def mark_published(session: AsyncSession, *, dedupe_key: str) -> None:
    await session.execute(
        update(EmailProcessingLog)
        .where(
            col(EmailProcessingLog.stage) == STAGE,
            col(EmailProcessingLog.dedupe_key) == dedupe_key,
        )
        .values(status=PUBLISHED, updated_at=datetime.now(UTC))
    )
