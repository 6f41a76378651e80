"""The ingest stage of the email processing log: one row per dedupe key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from postdesk_runtime.processing_log import append_processing_log
from postdesk_schema.logs import EmailProcessingLog
from sqlalchemy import bindparam, update
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
    inserted = await append_processing_log(
        session,
        stage=STAGE,
        dedupe_key=dedupe_key,
        status=STORED,
        sha256=sha256,
        raw_blob_ref=raw_blob_ref,
        event_id=event_id,
        detail=detail,
    )
    if inserted:
        return STORED
    return await session.scalar(_STATUS, {"key": dedupe_key}) or STORED


async def mark_published(session: AsyncSession, *, dedupe_key: str) -> None:
    await session.execute(_MARK_PUBLISHED, {"key": dedupe_key, "now": datetime.now(UTC)})


# Built once: every accepted mail runs them.
_TIMESTAMP = EmailProcessingLog.__table__.c.updated_at.type  # type: ignore[attr-defined]
_OF_KEY = (
    col(EmailProcessingLog.stage) == STAGE,
    col(EmailProcessingLog.dedupe_key) == bindparam("key"),
)
_STATUS = select(col(EmailProcessingLog.status)).where(*_OF_KEY)
_MARK_PUBLISHED = (
    update(EmailProcessingLog)
    .where(*_OF_KEY)
    .values(status=PUBLISHED, updated_at=bindparam("now", type_=_TIMESTAMP))
)
