"""Parsing stored mail again with the parser of this release.

Every inbound message keeps its raw bytes in the blob store. After a parser
fix (a charset, a MIME structure, a lost threading header), re-parsing
brings the stored messages up to what the parser now makes of them: the
same code path as the pipeline (`postdesk_parser.service.mail_parsed_of`,
then the router's `rows.message_row` and `rows.attachment_rows`).

What changes: subject, From, To, Cc, In-Reply-To, References, Date, the text
and HTML bodies, the preview, the classification and the attachments. What
stays: the message's identity and place (Message-ID, ticket, account,
direction, when it was received, why it joined its ticket). A message whose
Message-ID now parses differently keeps its stored one (it is how the thread
and the outbound replies know it); the difference is reported. Attachments
the new parse still finds keep their ids (their download links stay valid).
Each message is one transaction; run `postdesk thread rebuild` afterwards if
re-parsing recovered threading headers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from postdesk_contracts.events import Channel, MailReceived
from postdesk_parser.domain import UnparseableMailError, parse_mail
from postdesk_parser.limits import ParseLimits
from postdesk_parser.service import mail_parsed_of
from postdesk_router import rows
from postdesk_router.db import AccountRef
from postdesk_runtime.blobstore import BlobStore
from postdesk_schema import Attachment, Message
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

REPARSED_FIELDS = (
    "subject",
    "from_email",
    "from_name",
    "to",
    "cc",
    "in_reply_to",
    "references",
    "sent_at",
    "text_body",
    "html_body",
    "reply_text",
    "text_preview",
    "classification",
)


@dataclass
class Reparsed:
    message_id: uuid.UUID
    changed: list[str] = field(default_factory=list)
    attachments: tuple[int, int] = (0, 0)
    message_id_header_now: str | None = None
    error: str | None = None

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"message": str(self.message_id)}
        if self.error is not None:
            return record | {"error": self.error}
        record |= {"changed": self.changed, "attachments": list(self.attachments)}
        if self.message_id_header_now is not None:
            record["message_id_header_now"] = self.message_id_header_now
        return record


async def inbound_messages_of(session: AsyncSession, ticket_id: uuid.UUID) -> list[uuid.UUID]:
    found = await session.scalars(
        select(col(Message.id))
        .where(col(Message.ticket_id) == ticket_id, col(Message.direction) == "inbound")
        .order_by(col(Message.created_at))
    )
    return list(found)


async def reparse_message(
    session: AsyncSession,
    message_id: uuid.UUID,
    blobs: BlobStore,
    limits: ParseLimits,
) -> Reparsed:
    """Re-parse one stored inbound message in the caller's transaction (row locked)."""
    done = Reparsed(message_id)
    stored = await session.get(Message, message_id, with_for_update=True)
    if stored is None:
        done.error = "no such message"
        return done
    if stored.direction != "inbound" or not stored.raw_blob_ref:
        done.error = f"a {stored.direction} message has no received mail to parse"
        return done
    raw = await blobs.get(stored.raw_blob_ref)
    try:
        parsed = parse_mail(raw, limits=limits)
    except UnparseableMailError as error:
        done.error = f"unparseable now: {error}"
        return done
    received_at = stored.received_at or stored.created_at
    # channel and source do not reach the message row
    received = MailReceived(
        raw_blob_ref=stored.raw_blob_ref,
        sha256=stored.sha256,
        size=len(raw),
        channel=Channel.WEBHOOK,
        received_at=received_at,
    )
    payload = await mail_parsed_of(received, parsed, blobs)
    account = AccountRef(
        id=stored.account_id, tenant_id=stored.tenant_id, address="", department_id=None
    )
    body = await rows.load_body(blobs, payload.body_blob_ref)
    fresh = rows.message_row(stored.id, stored.ticket_id, account, payload, body, stored.match_rule)
    for name in REPARSED_FIELDS:
        if getattr(stored, name) != getattr(fresh, name):
            setattr(stored, name, getattr(fresh, name))
            done.changed.append(name)
    if payload.message_id != stored.message_id_header:
        done.message_id_header_now = payload.message_id
    wanted = rows.attachment_rows(stored.id, stored.tenant_id, payload)
    before, changed = await _replace_attachments(session, stored.id, wanted)
    done.attachments = (before, len(wanted))
    if changed:
        done.changed.append("attachments")
    await session.flush()
    return done


async def _replace_attachments(
    session: AsyncSession, message_id: uuid.UUID, wanted: Sequence[Attachment]
) -> tuple[int, bool]:
    """Make the message's attachment rows `wanted`, keeping the ids of those that stay;
    returns how many there were and whether anything changed."""
    existing = list(
        await session.scalars(
            select(Attachment)
            .where(col(Attachment.message_id) == message_id)
            .order_by(col(Attachment.id))
        )
    )
    unused = list(existing)
    changed = False
    for attachment in wanted:
        same = next(
            (
                old
                for old in unused
                if (old.blob_ref, old.filename) == (attachment.blob_ref, attachment.filename)
            ),
            None,
        )
        if same is None:
            session.add(attachment)
            changed = True
            continue
        unused.remove(same)
        for name in ("content_type", "size", "content_id", "inline"):
            if getattr(same, name) != getattr(attachment, name):
                setattr(same, name, getattr(attachment, name))
                changed = True
    if unused:
        await session.execute(
            delete(Attachment).where(col(Attachment.id).in_([old.id for old in unused]))
        )
    return len(existing), changed or bool(unused)
