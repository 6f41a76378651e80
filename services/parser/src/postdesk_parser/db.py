"""The parser's rows: its stage of the email processing log."""

from __future__ import annotations

import uuid

from postdesk_runtime.processing_log import append_processing_log
from sqlalchemy.ext.asyncio import AsyncSession

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
    return await append_processing_log(
        session,
        stage=STAGE,
        dedupe_key=str(received_id),
        status=status,
        sha256=sha256,
        raw_blob_ref=raw_blob_ref,
        message_id_header=message_id_header,
        event_id=event_id,
        detail=detail,
    )
