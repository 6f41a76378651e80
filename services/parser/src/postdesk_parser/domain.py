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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.headerregistry import Address as HeaderAddress
from email.headerregistry import AddressHeader, BaseHeader, HeaderRegistry
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from functools import cache
from typing import Any, cast

from postdesk_contracts.events import (
    MAX_PREVIEW_CHARS,
    Address,
    BounceReport,
    MailClassification,
    MailKind,
)

from postdesk_parser import thread_keys
from postdesk_parser._html import html_to_text
from postdesk_parser.attachments import AttachmentPart, dedupe
from postdesk_parser.bounce import read_bounce
from postdesk_parser.charsets import fix_surrogates
from postdesk_parser.classify import classify
from postdesk_parser.enrich import DEFAULT_ENRICHER, Enricher
from postdesk_parser.limits import LimitTracker, ParseLimits
from postdesk_parser.limits import UnparseableMailError as UnparseableMailError  # re-exported
from postdesk_parser.mime_walk import read_message, walk_message
from postdesk_parser.reply import split_reply
from postdesk_parser.sanitize import sanitize_html

SYNTHETIC_MESSAGE_ID_DOMAIN = "postdesk.invalid"
MAX_FILENAME_CHARS = 255
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_WHITESPACE = re.compile(r"\s+")
_LINESEP = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CRLF = re.compile(r"\n|\r")
_EXTENSIONS = {
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "text/plain": ".txt",
    "text/html": ".html",
}


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
    bounce: BounceReport | None = None
    normalized_subject: str = ""
    ticket_tag: str | None = None
    thread_index: str | None = None
    plus_tokens: list[str] = field(default_factory=list)
    language: str | None = None
    sentiment: str | None = None
    reply_text: str = ""
    signature: str = ""
    has_calendar: bool = False
    limits_hit: list[str] = field(default_factory=list)
    remote_images_blocked: int = 0

    @property
    def text_preview(self) -> str:
        """The first characters of the new reply text (else the text body), whitespace collapsed."""
        return _WHITESPACE.sub(" ", self.reply_text or self.text or "").strip()[:MAX_PREVIEW_CHARS]


class _Headers:
    """One header block, read once; each field parsed at most once on demand."""

    def __init__(self, message: Message) -> None:
        # the tree is parsed with compat32 (raw strings, fast); fields are parsed with the modern API
        self._raw: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._raw.setdefault(name.lower(), []).append(fix_surrogates(str(value)))
        self._parsed: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self._raw)

    def raw(self, name: str) -> list[str]:
        """Unfolded raw values of every occurrence of `name`."""
        return [_LINESEP.sub("", v).strip() for v in self._raw.get(name, [])]

    def first_raw(self, name: str) -> str | None:
        values = self._raw.get(name)
        return _LINESEP.sub("", values[0]).strip() if values else None

    def parsed(self, name: str) -> Any:
        """The policy's header object for the first occurrence of `name`, or None."""
        if name not in self._parsed:
            value = self.first_unparsed(name)
            self._parsed[name] = _header_class(name)(name, value) if value is not None else None
        return self._parsed[name]

    def first_unparsed(self, name: str) -> str | None:
        """The first value as `policy.default` hands it to its header parser (CR and LF removed)."""
        values = self._raw.get(name)
        return _CRLF.sub("", values[0]) if values else None


@cache
def _header_class(name: str) -> type[BaseHeader]:
    """`policy.default.header_fetch_parse` without its cost: the registry builds a new class on every call."""
    return cast(HeaderRegistry, policy.default.header_factory)[name]


def parse_mail(
    raw: bytes, *, enricher: Enricher = DEFAULT_ENRICHER, limits: ParseLimits | None = None
) -> ParsedMail:
    """Parse raw message bytes; raise `UnparseableMailError` when there is no message to take further.

    Over a limit (limits.py) the message is read as far as is safe and the limit named in `limits_hit`.
    """
    tracker = LimitTracker(limits or ParseLimits())
    message = read_message(raw, tracker)
    headers = _Headers(message)
    if not headers:
        raise UnparseableMailError("no header fields: not an RFC 5322 message" + tracker.reason())
    sender = _first(_addresses(headers, "from")) or _first(_addresses(headers, "sender"))
    if sender is None:
        raise UnparseableMailError("no usable From address" + tracker.reason())
    sha256 = hashlib.sha256(raw).hexdigest()
    message_id = _message_ids(headers.first_raw("message-id") or "")
    body = walk_message(message, tracker)
    attachments = dedupe(body.attachments)
    safe_html = (
        sanitize_html(body.html, {a.content_id: a.sha256 for a in attachments if a.content_id})
        if body.html is not None
        else None
    )
    text = body.text
    if text is None and body.html is not None:
        text = html_to_text(body.html)
    # the HTML before sanitising: its quote containers are what reply.py looks for
    split = split_reply(text or "", html=body.html)
    parsed = ParsedMail(
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
        html=safe_html.html if safe_html is not None else None,
        attachments=attachments,
        has_calendar=body.has_calendar,
        limits_hit=tracker.hit,
        remote_images_blocked=safe_html.remote_images_blocked if safe_html is not None else 0,
        reply_text=split.reply_text,
        signature=split.signature,
    )
    return _with_keys(parsed, headers, enricher)


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
        pairs = _mailboxes(headers.first_unparsed(name) or "")
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


def _mailboxes(value: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) of each mailbox, exactly as `policy.default`'s address headers give them.

    Read from the parse tree: the header object would also collect defects and re-render
    the value, which costs as much as the parse and is not used here.
    """
    pairs: list[tuple[str, str]] = []
    for group in AddressHeader.value_parser(value).addresses:
        group.display_name  # noqa: B018  # raises where the header object would
        for mailbox in group.all_mailboxes:
            address = HeaderAddress(
                mailbox.display_name or "", mailbox.local_part or "", mailbox.domain or ""
            )
            pairs.append((address.display_name, address.addr_spec))
    return pairs


def _delivered_to(headers: _Headers) -> list[str]:
    """Addresses the delivering MTA names: Delivered-To, then X-Original-To (Postfix's
    address before alias expansion)."""
    values = [*headers.raw("delivered-to"), *headers.raw("x-original-to")]
    found = (parseaddr(v)[1].strip().lower() for v in values)
    return list(dict.fromkeys(a for a in found if "@" in a))


def _subject(headers: _Headers) -> str:
    value = headers.first_unparsed("subject")
    if value is None:
        return ""
    if value.isascii() and "=?" not in value:
        # without encoded words the unstructured parser gives the value back unchanged
        return _clean(value)
    try:
        return _clean(str(headers.parsed("subject")))
    except (HeaderParseError, ValueError, IndexError, TypeError, LookupError):
        return _clean(_decode_words(headers.first_raw("subject") or ""))


def _date(headers: _Headers) -> datetime | None:
    raw = headers.first_unparsed("date")
    if raw is None:
        return None
    try:
        # what policy.default's DateHeader computes, without building its parse tree
        value = parsedate_to_datetime(raw) if raw else None
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
    except (ValueError, LookupError, UnicodeError, HeaderParseError):
        return value


def _with_keys(parsed: ParsedMail, headers: _Headers, enricher: Enricher) -> ParsedMail:
    """Classification, bounce report, threading keys and enrichment (classify.py, bounce.py, ...)."""
    classification = classify(headers, parsed.from_, parsed.subject)
    bounce = (
        read_bounce(parsed.attachments, parsed.text, parsed.from_.email)
        if classification.kind is MailKind.BOUNCE
        else None
    )
    # the new text when reply extraction found it, else the whole text
    enrichment = enricher.enrich(getattr(parsed, "reply_text", None) or parsed.text)
    recipients = [a.email for a in (*parsed.to, *parsed.cc)] + parsed.delivered_to
    return replace(
        parsed,
        classification=classification,
        bounce=bounce,
        normalized_subject=thread_keys.normalize_subject(parsed.subject),
        ticket_tag=thread_keys.find_ticket_tag(parsed.subject),
        thread_index=headers.first_raw("thread-index"),
        plus_tokens=thread_keys.plus_tokens(recipients),
        language=enrichment.language,
        sentiment=enrichment.sentiment,
    )
