"""Mail content served on demand: an attachment's bytes, a message's HTML body.

Both only for a caller who can see the ticket (404 otherwise, never saying
which), both audit-logged as reads of mail, and both with headers that keep a
hostile file or body from running in the app's origin.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from postdesk_runtime.blobstore import REF_PREFIX, BlobNotFoundError, BlobStore
from postdesk_runtime.htmlpolicy import MAIL_HTML
from postdesk_schema import Attachment, Message, Ticket
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway import db
from postdesk_gateway.domain import CurrentUser, NotFoundError
from postdesk_gateway.inbox_domain import attachment_disposition, served_content_type

log = structlog.get_logger(__name__)

# What a message's HTML may do in the browser: show itself, inline styles and embedded
# images, nothing else (no script, no fetch, no form, no navigation of the app).
MESSAGE_HTML_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
ATTACHMENT_CSP = "default-src 'none'; sandbox"
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);", re.IGNORECASE)
# The parser's rewrite of an embedded image's cid: link (postdesk_parser.sanitize).
ATTACHMENT_SCHEME = "postdesk-attachment:"
_EMBEDDED = re.compile(r"postdesk-attachment:([0-9a-f]{64})", re.IGNORECASE)
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
INLINE_IMAGE_MAX_BYTES = 2 * 1024 * 1024
INLINE_IMAGES_MAX_BYTES = 10 * 1024 * 1024


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
    try:
        data = await blobs.get(attachment.blob_ref)
    except BlobNotFoundError as missing:
        log.error("attachment content missing", attachment_id=str(attachment.id))
        raise NotFoundError("the attachment's content is missing from storage") from missing
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


async def _inline_images(
    session: AsyncSession, message: Message, blobs: BlobStore
) -> dict[str, str]:
    """`postdesk-attachment:<sha256>` -> a data: URI of that image, for the images the
    body embeds (the parser rewrote their cid: links so) that are this message's own
    attachments, of a type browsers only ever decode as an image, within the size limits."""
    digests = {d.lower() for d in _EMBEDDED.findall(message.html_body or "")}
    if not digests:
        return {}
    attachments = await session.scalars(
        select(Attachment).where(
            col(Attachment.message_id) == message.id,
            col(Attachment.tenant_id) == message.tenant_id,
            col(Attachment.blob_ref).in_([REF_PREFIX + digest for digest in digests]),
            col(Attachment.size) <= INLINE_IMAGE_MAX_BYTES,
        )
    )
    found: dict[str, str] = {}
    budget = INLINE_IMAGES_MAX_BYTES
    for attachment in attachments:
        media_type = attachment.content_type.split(";")[0].strip().lower()
        if media_type not in INLINE_IMAGE_TYPES or attachment.size > budget:
            continue
        try:
            data = await blobs.get(attachment.blob_ref)
        except BlobNotFoundError:
            log.error("inline image content missing", attachment_id=str(attachment.id))
            continue
        budget -= len(data)
        encoded = base64.b64encode(data).decode("ascii")
        found[ATTACHMENT_SCHEME + attachment.blob_ref.removeprefix(REF_PREFIX)] = (
            f"data:{media_type};base64,{encoded}"
        )
    return found


def _image_source(inline: dict[str, str]) -> Callable[[str], str | None]:
    def source(value: str) -> str | None:
        clean = value.strip()
        if clean.lower().startswith(ATTACHMENT_SCHEME):
            return inline.get(clean.lower())
        if _DATA_IMAGE.match(clean):
            return clean
        return None

    return source


async def message_html(
    session: AsyncSession, user: CurrentUser, message_id: uuid.UUID, *, blobs: BlobStore, ip: str
) -> ServedFile:
    """The message's full HTML body, cleaned again on the way out (the parser cleaned it on
    the way in) and served under a CSP that forbids everything but inline styles and
    embedded images; 404 without an HTML body. Images the mail embeds (cid:) are inlined
    as data: URIs, so a sandboxed frame shows them without credentials; remote images
    stay blocked. The read is audit-logged."""
    message = await _message(session, user, message_id)
    if not message.html_body:
        raise NotFoundError("message has no HTML body")
    inline = await _inline_images(session, message, blobs)
    html = MAIL_HTML.clean(message.html_body, image_source=_image_source(inline))
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
        # Litestar's Response appends "; charset=utf-8" to every text/ type itself (naming it
        # here too sent the parameter twice)
        media_type="text/html",
        headers={
            "Content-Security-Policy": MESSAGE_HTML_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "private, no-store",
        },
    )
