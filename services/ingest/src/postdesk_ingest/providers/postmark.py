"""Postmark inbound webhook: POST /webhooks/postmark (optionally /webhooks/postmark/<token>).

Postmark signs nothing; its documented protection is HTTP Basic credentials
in the webhook URL (https://user:password@host/...), checked here against
INGEST_POSTMARK_USERNAME/PASSWORD, and/or a secret token as the last path
segment (INGEST_POSTMARK_TOKEN). With both configured, both must match.

The message: `RawEmail` when the server has "Include raw email content"
on (recommended: the bytes are the original); otherwise `rebuild_mime`
builds a MIME message from the JSON fields. The rebuild is deterministic
(boundaries derived from the payload), so a retried post dedupes.
Recipients: `OriginalRecipient`, else `ToFull`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr
from typing import Any

import structlog
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromPath
from litestar.status_codes import HTTP_202_ACCEPTED

from postdesk_ingest.domain import SignatureError
from postdesk_ingest.providers.common import (
    Providers,
    check_basic_auth,
    check_source,
    deliver,
    require,
)
from postdesk_ingest.recipients import RecipientDirectory
from postdesk_ingest.service import Accepted, Ports

log = structlog.get_logger(__name__)

PROVIDER = "postmark"
# headers the rebuild sets itself (or that describe the original MIME structure)
_OWN_HEADERS = {
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
}


class PayloadError(ValueError):
    """The JSON is not a Postmark inbound message."""


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    return value.replace("\r", " ").replace("\n", " ").strip() if isinstance(value, str) else ""


def _addresses(payload: dict[str, Any], name: str) -> str:
    """The `<name>Full` list formatted as a header, else the plain `<name>` string."""
    full = payload.get(f"{name}Full")
    if isinstance(full, dict):
        full = [full]
    if isinstance(full, list) and full:
        return ", ".join(
            formataddr((str(a.get("Name") or ""), str(a.get("Email") or "")))
            for a in full
            if isinstance(a, dict) and a.get("Email")
        )
    return _text(payload, name)


def rebuild_mime(payload: dict[str, Any], *, seed: bytes) -> bytes:
    """A MIME message (CRLF) from Postmark's JSON fields; the same payload gives the same bytes."""
    message = EmailMessage(policy=SMTP)
    for name, value in (
        ("From", _addresses(payload, "From")),
        ("To", _addresses(payload, "To")),
        ("Cc", _addresses(payload, "Cc")),
        ("Reply-To", _text(payload, "ReplyTo")),
        ("Subject", _text(payload, "Subject")),
        ("Date", _text(payload, "Date")),
    ):
        if value:
            message[name] = value
    extra = [h for h in payload.get("Headers") or [] if isinstance(h, dict)]
    message_id = next(
        (_text(h, "Value") for h in extra if str(h.get("Name", "")).lower() == "message-id"), ""
    )
    if not message_id and _text(payload, "MessageID"):
        message_id = f"<{_text(payload, 'MessageID')}@inbound.postmarkapp.com>"
    if message_id:
        message["Message-ID"] = message_id
    for field in extra:
        name, value = _text(field, "Name"), _text(field, "Value")
        if name and name.lower() not in _OWN_HEADERS:
            try:
                message[name] = value
            except ValueError:  # a second copy of a header allowed once: keep the first
                log.debug("postmark header skipped", header=name)

    text, html = payload.get("TextBody") or "", payload.get("HtmlBody") or ""
    if text:
        message.set_content(str(text))
        if html:
            message.add_alternative(str(html), subtype="html")
    elif html:
        message.set_content(str(html), subtype="html")
    else:
        message.set_content("")
    for attachment in payload.get("Attachments") or []:
        if not isinstance(attachment, dict):
            raise PayloadError("an attachment is not an object")
        _attach(message, attachment)

    digest = hashlib.sha256(seed).hexdigest()[:32]
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_postdesk_{digest}_{index}")
    return message.as_bytes()


def _attach(message: EmailMessage, attachment: dict[str, Any]) -> None:
    try:
        data = base64.b64decode(str(attachment.get("Content") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError("an attachment's Content is not base64") from None
    maintype, _, subtype = (
        _text(attachment, "ContentType") or "application/octet-stream"
    ).partition("/")
    if maintype in {"multipart", "message"} or not subtype:
        maintype, subtype = "application", "octet-stream"  # kept as opaque bytes
    content_id = _text(attachment, "ContentID")
    message.add_attachment(
        data,
        maintype=maintype.lower(),
        subtype=subtype.lower(),
        filename=_text(attachment, "Name") or None,
        cid=(content_id if content_id.startswith("<") else f"<{content_id}>")
        if content_id
        else None,
    )


def recipients_of(payload: dict[str, Any]) -> list[str]:
    """`OriginalRecipient` (the address Postmark received the mail for), else every `ToFull` email."""
    original = _text(payload, "OriginalRecipient")
    if original:
        return [original]
    full = payload.get("ToFull")
    return [str(a["Email"]) for a in full or [] if isinstance(a, dict) and a.get("Email")]


def message_of(payload: dict[str, Any], body: bytes) -> bytes:
    raw = payload.get("RawEmail")
    if isinstance(raw, str) and raw.strip():
        return raw.encode("utf-8", "surrogateescape")
    log.debug("postmark payload without RawEmail, rebuilding MIME")
    return rebuild_mime(payload, seed=body)


def authenticate(providers: Providers, authorization: str | None, path_token: str | None) -> None:
    """Basic credentials and/or path token, whichever are configured (404 if neither is)."""
    settings = providers.settings
    require(settings.postmark_password or settings.postmark_token, PROVIDER)
    if settings.postmark_token is not None:
        expected = settings.postmark_token.get_secret_value().encode()
        if not hmac.compare_digest((path_token or "").encode(), expected):
            raise SignatureError("postmark: wrong or missing path token")
    if settings.postmark_password is not None and settings.postmark_username is not None:
        check_basic_auth(
            authorization,
            settings.postmark_username,
            settings.postmark_password.get_secret_value(),
            PROVIDER,
        )


@post(
    ["/webhooks/postmark", "/webhooks/postmark/{token:str}"],
    status_code=HTTP_202_ACCEPTED,
    summary="Accept a message from Postmark's inbound webhook (JSON)",
    description="Authenticated by HTTP Basic credentials and/or a secret path token. "
    "404 unless INGEST_POSTMARK_PASSWORD or INGEST_POSTMARK_TOKEN is set.",
)
async def receive_postmark(
    request: Request[Any, Any, Any],
    ports: NamedDependency[Ports],
    providers: NamedDependency[Providers],
    directory: NamedDependency[RecipientDirectory],
    token: FromPath[str | None] = None,
) -> Accepted:
    check_source(request, providers, PROVIDER)
    authenticate(providers, request.headers.get("authorization"), token)
    body = await request.body()
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise PayloadError("the body is not a JSON object")
        raw = message_of(payload, body)
    except (ValueError, PayloadError) as error:
        raise ClientException(f"postmark: {error}") from None
    return await deliver(raw, recipients_of(payload), ports, providers, PROVIDER, directory)
