"""Appending to the email processing log: one row per (stage, dedupe key), written once.

Each pipeline stage appends the rows of its own stage (ADR 2). A redelivered
message finds its row already there and leaves it as it is.
"""

from __future__ import annotations

import uuid

from postdesk_schema.logs import EmailProcessingLog
from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

_COLUMNS = (
    "id",
    "tenant_id",
    "stage",
    "dedupe_key",
    "status",
    "sha256",
    "raw_blob_ref",
    "message_id_header",
    "event_id",
    "detail",
)
# Built once (every stage appends a row per mail; building the statement per call cost
# more CPU than running it).
_APPEND = (
    insert(EmailProcessingLog)
    .values({name: bindparam(name) for name in _COLUMNS})
    .on_conflict_do_nothing(index_elements=["stage", "dedupe_key"])
    .returning(col(EmailProcessingLog.id))
)


async def append_processing_log(
    session: AsyncSession,
    *,
    stage: str,
    dedupe_key: str,
    status: str,
    sha256: str,
    raw_blob_ref: str,
    tenant_id: uuid.UUID | None = None,
    message_id_header: str | None = None,
    event_id: uuid.UUID | None = None,
    detail: str = "",
) -> bool:
    """Insert the row unless the stage already has one for `dedupe_key`; True if inserted."""
    row = {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "stage": stage,
        "dedupe_key": dedupe_key,
        "status": status,
        "sha256": sha256,
        "raw_blob_ref": raw_blob_ref,
        "message_id_header": message_id_header,
        "event_id": event_id,
        "detail": detail,
    }
    return (await session.execute(_APPEND, row)).scalar_one_or_none() is not None
