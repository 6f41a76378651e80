"""The parser's rows: its stage of the email processing log."""

from __future__ import annotations

import uuid

from postdesk_schema.logs import EmailProcessingLog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

STAGE = "parser"


async def record_outcome(
    session: AsyncSession,
    *,
    received_id: uuid.UUID,
    status: str,
    sha256: str,
    raw_blob_ref: str,
    event_id: uuid.UUID,
    message_id_header: str | None = None,
    detail: str = "",
) -> bool:
    """Append the parser's log row for one mail.received; False if a redelivery already did."""
    statement = (
        insert(EmailProcessingLog)
        .values(
            id=uuid.uuid4(),
            stage=STAGE,
            dedupe_key=str(received_id),
            status=status,
            sha256=sha256,
            raw_blob_ref=raw_blob_ref,
            message_id_header=message_id_header,
            event_id=event_id,
            detail=detail,
        )
        .on_conflict_do_nothing(index_elements=["stage", "dedupe_key"])
        .returning(col(EmailProcessingLog.id))
    )
    result = await session.execute(statement)
    return result.scalar_one_or_none() is not None
