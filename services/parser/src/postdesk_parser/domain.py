"""Raw RFC 5322 bytes to a parsed message: pure, no I/O.

`parse_mail(raw)` returns a `ParsedMail` or raises `UnparseableMailError`
with a reason a human can act on. Any other exception escaping it also
means the input was malformed (the service turns both into mail.rejected).

Cost: with `policy.default` the stdlib re-parses a header on every access,
which dominates parse time (DESIGN.md). So each header block is read once,
from `raw_items()`, into a `_Headers` table, and every header needed is
parsed at most once from there -- for the message and for each MIME part.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from pathlib import PurePosixPath
from typing import Any

from postdesk_contracts.events import MAX_PREVIEW_CHARS, Address, MailClassification, MailKind

from postdesk_parser._html import html_to_text

SYNTHETIC_MESSAGE_ID_DOMAIN = "postdesk.invalid"
MAX_FILENAME_CHARS = 255
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_WHITESPACE = re.compile(r"\s+")
_LINESEP = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LIST_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_BOUNCE_LOCALPARTS = frozenset({"mailer-daemon", "postmaster"})
_EXTENSIONS = {
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "text/plain": ".txt",
    "text/html": ".html",
}


class UnparseableMailError(ValueError):
    """The bytes are not a message postdesk can take further; `str(error)` is the reason."""


@dataclass(frozen=True)
class AttachmentPart:
    """An attachment's decoded bytes and metadata, before it is stored."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class ParsedMail:
    """What the parser understood of one message."""

    sha256: str
    message_id: str
    message_id_synthesised: bool
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_: Address
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    delivered_to: list[str]
    date: datetime | None
    text: str | None
    html: str | None
    attachments: list[AttachmentPart] = field(default_factory=list)
    classification: MailClassification = field(default_factory=MailClassification)

    @property
    def text_preview(self) -> str:
        """The first characters of the text body, whitespace collapsed."""
        return _WHITESPACE.sub(" ", self.text or "").strip()[:MAX_PREVIEW_CHARS]


class _Headers:
    """One header block, read once; each field parsed at most once on demand."""

    def __init__(self, message: Message) -> None:
        self._policy = message.policy
        self._raw: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._raw.setdefault(name.lower(), []).append(value)
        self._parsed: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self._raw)

    def raw(self, name: str) -> list[str]:
        """Unfolded raw values of every occurrence of `name`."""
        return [_LINESEP.sub("", v).strip() for v in self._raw.get(name, [])]

    def first_raw(self, name: str) -> str | None:
        values = self.raw(name)
        return values[0] if values else None

    def parsed(self, name: str) -> Any:
        """The policy's header object for the first occurrence of `name`, or None."""
        if name not in self._parsed:
            values = self._raw.get(name)
            self._parsed[name] = (
                self._policy.header_fetch_parse(name, values[0]) if values else None
            )
        return self._parsed[name]


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse raw message bytes; raise `UnparseableMailError` when there is no message to take further."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    headers = _Headers(message)
    if not headers:
        raise UnparseableMailError("no header fields: not an RFC 5322 message")
    sender = _first(_addresses(headers, "from")) or _first(_addresses(headers, "sender"))
    if sender is None:
        raise UnparseableMailError("no usable From address")
    sha256 = hashlib.sha256(raw).hexdigest()
    message_id = _message_ids(headers.first_raw("message-id") or "")
    body = _Bodies()
    body.collect(message, headers)
    text = body.text
    if text is None and body.html is not None:
        text = html_to_text(body.html)
    return ParsedMail(
        sha256=sha256,
        message_id=message_id[0] if message_id else f"{sha256}@{SYNTHETIC_MESSAGE_ID_DOMAIN}",
        message_id_synthesised=not message_id,
        in_reply_to=_message_ids(" ".join(headers.raw("in-reply-to"))),
        references=_message_ids(" ".join(headers.raw("references"))),
        subject=_subject(headers),
        from_=sender,
        reply_to=_addresses(headers, "reply-to"),
        to=_addresses(headers, "to"),
        cc=_addresses(headers, "cc"),
        delivered_to=_delivered_to(headers),
        date=_date(headers),
        text=text,
        html=body.html,
        attachments=body.attachments,
        classification=classify(headers, sender),
    )


def _first(addresses: list[Address]) -> Address | None:
    return addresses[0] if addresses else None


def _message_ids(value: str) -> list[str]:
    """Ids without angle brackets, in order, without repeats; bare `x@y` tokens when nothing is bracketed."""
    found = _MSG_ID.findall(value) or [t for t in value.split() if "@" in t]
    return list(dict.fromkeys(found))


def _addresses(headers: _Headers, name: str) -> list[Address]:
    """Mailboxes of an address header (groups flattened), lower-cased; unusable entries skipped."""
    if not headers.raw(name):
        return []
    pairs: list[tuple[str, str]]
    try:
        header = headers.parsed(name)
        pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
    except (HeaderParseError, ValueError, IndexError, TypeError, AttributeError):
        # the stdlib's structured parser has known crashes on hostile input;
        # the simple parser still gets the mailboxes out
        pairs = getaddresses(headers.raw(name))
    result: list[Address] = []
    for display_name, addr_spec in pairs:
        email = addr_spec.strip().lower()
        if "@" in email and not _CONTROL.search(email):
            result.append(Address(name=_clean(display_name), email=email))
    return result


def _delivered_to(headers: _Headers) -> list[str]:
    found = (parseaddr(v)[1].strip().lower() for v in headers.raw("delivered-to"))
    return list(dict.fromkeys(a for a in found if "@" in a))


def _subject(headers: _Headers) -> str:
    if headers.first_raw("subject") is None:
        return ""
    try:
        return _clean(str(headers.parsed("subject")))
    except (HeaderParseError, ValueError, IndexError, TypeError, LookupError):
        return _clean(_decode_words(headers.first_raw("subject") or ""))


def _date(headers: _Headers) -> datetime | None:
    if headers.first_raw("date") is None:
        return None
    try:
        value = headers.parsed("date").datetime
    except (ValueError, IndexError, TypeError, AttributeError, OverflowError):
        return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _clean(value: str) -> str:
    return _WHITESPACE.sub(" ", _CONTROL.sub(" ", value)).strip()


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded, or the value unchanged if they are broken."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def classify(headers: _Headers, sender: Address) -> MailClassification:
    """Why this mail must never get an automatic answer (RFC 3834), if it must not."""
    reasons: list[str] = []
    kinds: set[MailKind] = set()
    auto_submitted = (headers.first_raw("auto-submitted") or "").lower() or None
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        kinds.add(MailKind.AUTO_REPLY)
        reasons.append(f"auto-submitted: {auto_submitted}")
    if headers.first_raw("x-autoreply") or headers.first_raw("x-autorespond"):
        kinds.add(MailKind.AUTO_REPLY)
        reasons.append("x-autoreply header")
    precedence = (headers.first_raw("precedence") or "").lower()
    if precedence in _LIST_PRECEDENCE:
        kinds.add(MailKind.LIST)
        reasons.append(f"precedence: {precedence}")
    if headers.first_raw("list-id") or headers.first_raw("list-unsubscribe"):
        kinds.add(MailKind.LIST)
        reasons.append("list headers")
    content_type = headers.parsed("content-type")
    if content_type is not None and content_type.content_type == "multipart/report":
        report_type = str(content_type.params.get("report-type", "")).lower()
        kinds.add(MailKind.BOUNCE if report_type == "delivery-status" else MailKind.AUTO_REPLY)
        reasons.append(f"multipart/report: {report_type or 'unknown'}")
    if sender.email.split("@", 1)[0] in _BOUNCE_LOCALPARTS:
        kinds.add(MailKind.BOUNCE)
        reasons.append(f"sender {sender.email.split('@', 1)[0]}")
    if (headers.first_raw("x-spam-flag") or "").lower() == "yes":
        kinds.add(MailKind.SPAM)
        reasons.append("x-spam-flag: yes")
    if (headers.first_raw("return-path") or "").replace(" ", "") == "<>":
        reasons.append("null return-path")
    for kind in (MailKind.BOUNCE, MailKind.AUTO_REPLY, MailKind.SPAM, MailKind.LIST):
        if kind in kinds:
            return MailClassification(kind=kind, auto_submitted=auto_submitted, reasons=reasons)
    return MailClassification(auto_submitted=auto_submitted, reasons=reasons)


@dataclass(frozen=True)
class _PartInfo:
    content_type: str
    charset: str | None
    disposition: str | None
    filename: str | None
    content_id: str | None

    @classmethod
    def of(cls, headers: _Headers) -> _PartInfo:
        content_type = headers.parsed("content-type")
        disposition = headers.parsed("content-disposition")
        params = dict(content_type.params) if content_type is not None else {}
        disposition_params = dict(disposition.params) if disposition is not None else {}
        filename = disposition_params.get("filename") or params.get("name")
        content_id = headers.first_raw("content-id")
        return cls(
            content_type=content_type.content_type if content_type is not None else "text/plain",
            charset=params.get("charset"),
            disposition=disposition.content_disposition if disposition is not None else None,
            filename=_decode_words(str(filename)) if filename else None,
            content_id=(content_id.strip().strip("<>").strip() or None) if content_id else None,
        )


class _Bodies:
    """Walks the MIME tree once: the first text/plain and text/html body parts, and the attachments."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.html: str | None = None
        self.attachments: list[AttachmentPart] = []

    def collect(self, part: Message, headers: _Headers) -> None:
        info = _PartInfo.of(headers)
        if part.is_multipart() and info.content_type.startswith("multipart/"):
            for child in _children(part):
                self.collect(child, _Headers(child))
            return
        if info.content_type.startswith("multipart/"):
            # a multipart without a usable boundary: its payload is the only text there is
            info = replace(info, content_type="text/plain")
        is_body = info.disposition != "attachment" and (
            info.filename is None or info.disposition == "inline"
        )
        if is_body and info.content_type == "text/plain" and self.text is None:
            self.text = _decode_text(part, info.charset)
        elif is_body and info.content_type == "text/html" and self.html is None:
            self.html = _decode_text(part, info.charset)
        else:
            self.attachments.append(self._attachment(part, info))

    def _attachment(self, part: Message, info: _PartInfo) -> AttachmentPart:
        number = len(self.attachments) + 1
        return AttachmentPart(
            filename=_safe_filename(info.filename)
            or f"part-{number}{_EXTENSIONS.get(info.content_type, '.bin')}",
            content_type=info.content_type,
            data=_part_bytes(part),
            content_id=info.content_id,
            inline=info.disposition == "inline"
            or (info.disposition is None and bool(info.content_id)),
        )


def _children(part: Message) -> Iterator[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        yield from (child for child in payload if isinstance(child, Message))


def _part_bytes(part: Message) -> bytes:
    """Decoded bytes of a leaf; for message/* parts, the enclosed message(s) re-serialised."""
    if part.is_multipart():
        # compat32 writes the stored header values back as they came, without refolding
        return b"".join(child.as_bytes(policy=policy.compat32) for child in _children(part))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _decode_text(part: Message, charset: str | None) -> str:
    data = _part_bytes(part)
    try:
        return data.decode(charset or "us-ascii")
    except (LookupError, UnicodeDecodeError):
        # unknown or lying charset label: UTF-8 is the likeliest truth, then Latin-1 never fails
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")


def _safe_filename(name: str | None) -> str | None:
    if not name:
        return None
    base = PurePosixPath(name.replace("\\", "/")).name
    cleaned = _CONTROL.sub("", base).strip().lstrip(".")
    return cleaned[:MAX_FILENAME_CHARS] or None
