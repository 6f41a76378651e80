"""Mail content served on demand: an attachment's bytes, a message's HTML body.

Both only for a caller who can see the ticket (404 otherwise, never saying
which), both audit-logged as reads of mail, and both with headers that keep a
hostile file or body from running in the app's origin.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from postdesk_runtime.blobstore import BlobStore
from postdesk_runtime.htmlpolicy import MAIL_HTML
from postdesk_schema import Attachment, Message, Ticket
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway import db
from postdesk_gateway.domain import CurrentUser, NotFoundError
from postdesk_gateway.inbox_domain import attachment_disposition, served_content_type

# What a message's HTML may do in the browser: show itself, inline styles and embedded
# images, nothing else (no script, no fetch, no form, no navigation of the app).
MESSAGE_HTML_CSP = "default-src 'none'; img-src cid: data:; style-src 'unsafe-inline'; sandbox"
ATTACHMENT_CSP = "default-src 'none'; sandbox"
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);", re.IGNORECASE)


@dataclass(frozen=True)
class ServedFile:
    body: bytes
    media_type: str
    headers: dict[str, str]


async def _message(session: AsyncSession, user: CurrentUser, message_id: uuid.UUID) -> Message:
    query = (
        select(Message)
        .join(Ticket, col(Ticket.id) == col(Message.ticket_id))
        .where(
            col(Message.id) == message_id,
            col(Message.tenant_id) == user.tenant_id,
            db.visible_tickets(user),
        )
    )
    message = (await session.scalars(query)).one_or_none()
    if message is None:
        raise NotFoundError("message not found")
    return message


async def download_attachment(
    session: AsyncSession,
    user: CurrentUser,
    attachment_id: uuid.UUID,
    *,
    blobs: BlobStore,
    ip: str,
) -> ServedFile:
    """The attachment's bytes, if its ticket is visible; the download is audit-logged."""
    query = (
        select(Attachment)
        .join(Message, col(Message.id) == col(Attachment.message_id))
        .join(Ticket, col(Ticket.id) == col(Message.ticket_id))
        .where(
            col(Attachment.id) == attachment_id,
            col(Attachment.tenant_id) == user.tenant_id,
            db.visible_tickets(user),
        )
    )
    attachment = (await session.scalars(query)).one_or_none()
    if attachment is None:
        raise NotFoundError("attachment not found")
    data = await blobs.get(attachment.blob_ref)
    db.audit(
        session,
        user,
        action="attachment.downloaded",
        object_type="attachment",
        object_id=attachment.id,
        ip=ip,
        detail={"message_id": str(attachment.message_id)},
    )
    await session.commit()
    return ServedFile(
        body=data,
        media_type=served_content_type(attachment.content_type),
        headers={
            "Content-Disposition": attachment_disposition(attachment.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": ATTACHMENT_CSP,
            "Cache-Control": "private, no-store",
        },
    )


def _image_source(value: str) -> str | None:
    clean = value.strip()
    if clean.lower().startswith("cid:") or _DATA_IMAGE.match(clean):
        return clean
    return None


async def message_html(
    session: AsyncSession, user: CurrentUser, message_id: uuid.UUID, *, ip: str
) -> ServedFile:
    """The message's full HTML body, cleaned again on the way out (the parser cleaned it on
    the way in) and served under a CSP that forbids everything but inline styles and
    embedded images; 404 without an HTML body. The read is audit-logged."""
    message = await _message(session, user, message_id)
    if not message.html_body:
        raise NotFoundError("message has no HTML body")
    html = MAIL_HTML.clean(message.html_body, image_source=_image_source)
    db.audit(
        session,
        user,
        action="message.html_read",
        object_type="message",
        object_id=message.id,
        ip=ip,
        detail={"ticket_id": str(message.ticket_id)},
    )
    await session.commit()
    return ServedFile(
        body=html.encode(),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": MESSAGE_HTML_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "private, no-store",
        },
    )
