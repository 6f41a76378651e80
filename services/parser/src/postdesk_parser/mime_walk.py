"""Raw bytes to a MIME tree within limits, and one walk over it for bodies and attachments: pure, no I/O.

`read_message` feeds the standard library's parser (compat32: headers stay
raw strings, nothing is parsed twice) in chunks, checking the part count,
nesting depth and deadline between chunks, so a hostile message costs at
most one chunk more than the limits allow. `walk_message` then reads each
part's Content-Type, Content-Disposition, Content-ID and
Content-Transfer-Encoding once from the raw header list (RFC 2231
parameters and RFC 2047 words decoded, raw UTF-8 accepted) and collects:

- the text and HTML bodies, in document order: from multipart/alternative
  the first plain-text and the last (richest) HTML alternative; inline text
  parts of multipart/mixed are joined, never dropped;
- message/rfc822 (and message/global): the inner message's text as a
  forwarded block, its attachments listed, the message itself kept as .eml
  (inside multipart/report only the attachment is kept);
- multipart/signed: the signed content is read, the signature kept as an
  attachment; multipart/encrypted: every part kept as an attachment;
- winmail.dat (TNEF): its attachments unpacked, its body used when the
  message has no other; calendar parts (text/calendar, .ics) noted and kept.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.feedparser import BytesFeedParser
from email.header import decode_header, make_header
from email.message import Message
from email.utils import collapse_rfc2231_value, decode_params
from html import escape

from postdesk_parser._html import html_to_text
from postdesk_parser.attachments import AttachmentPart, make_attachment, sniff_type
from postdesk_parser.charsets import decode_bytes, fix_surrogates
from postdesk_parser.limits import (
    LIMIT_DEPTH,
    LIMIT_PARTS,
    LimitTracker,
    UnparseableMailError,
    guard_header_block,
)
from postdesk_parser.tnef import read_tnef

__all__ = ["MimeContent", "read_message", "walk_message"]

FEED_CHUNK_BYTES = 8192
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_SKIPPED_ALTERNATIVES = frozenset({"text/watch-html", "text/x-amp-html", "text/enriched"})
_FORWARDED_HEADERS = (
    ("from", "From"),
    ("date", "Date"),
    ("subject", "Subject"),
    ("to", "To"),
    ("cc", "Cc"),
)
_LINESEP = re.compile(r"\r\n|\r|\n")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_QP_CUT_ESCAPE = re.compile(rb"=[0-9A-Fa-f]?\Z")  # an escape cut off by truncation


@dataclass
class MimeContent:
    """What one walk found: bodies (HTML not yet sanitised), attachments in document order."""

    text: str | None = None
    html: str | None = None
    attachments: list[AttachmentPart] = field(default_factory=list)
    has_calendar: bool = False


def read_message(raw: bytes, tracker: LimitTracker) -> Message:
    """The MIME tree of `raw`, cut short (and flagged) where a limit is reached."""
    raw = guard_header_block(raw, tracker)
    created = 0

    def factory(*args: object, **kwargs: object) -> Message:
        nonlocal created
        created += 1
        return Message(policy.compat32)

    parser = BytesFeedParser(_factory=factory, policy=policy.compat32)
    limits = tracker.limits
    for start in range(0, len(raw), FEED_CHUNK_BYTES):
        if start and tracker.expired():
            break
        if created > limits.max_parts + 1:  # the parser builds one probe message at start
            tracker.flag(LIMIT_PARTS)
            break
        # the parser's stack of open parts is its nesting depth; a bomb stops here, not at the recursion limit
        if len(getattr(parser, "_msgstack", ())) > limits.max_depth + 1:
            tracker.flag(LIMIT_DEPTH)
            break
        try:
            parser.feed(raw[start : start + FEED_CHUNK_BYTES])
        except RecursionError:
            tracker.flag(LIMIT_DEPTH)
            break
    try:
        return parser.close()
    except RecursionError as error:
        raise UnparseableMailError(
            "MIME structure too deeply nested to read" + tracker.reason()
        ) from error


@dataclass(frozen=True)
class _Segment:
    text: str | None
    html: str | None


@dataclass(frozen=True)
class _PartInfo:
    content_type: str
    params: dict[str, str]
    disposition: str | None
    filename: str | None
    content_id: str | None
    transfer_encoding: str

    @classmethod
    def of(cls, part: Message) -> _PartInfo:
        found: dict[str, str] = {}
        for name, value in part.raw_items():
            key = name.lower()
            if key in _WANTED and key not in found:
                found[key] = fix_surrogates(_LINESEP.sub("", str(value)).strip())
        content_type, params = _params(found.get("content-type", ""))
        if "/" not in content_type:
            content_type, params = "text/plain", params  # RFC 2045: the default, also for junk
        disposition, disposition_params = _params(found.get("content-disposition", ""))
        filename = disposition_params.get("filename") or params.get("name")
        content_id = found.get("content-id", "").strip().strip("<>").strip()
        return cls(
            content_type=content_type,
            params=params,
            disposition=disposition or None,
            filename=_decode_words(filename) if filename else None,
            content_id=content_id or None,
            transfer_encoding=found.get("content-transfer-encoding", "").strip().lower(),
        )


_WANTED = frozenset(
    {"content-type", "content-disposition", "content-id", "content-transfer-encoding"}
)


def walk_message(message: Message, tracker: LimitTracker) -> MimeContent:
    """Bodies and attachments of `message`, as far as the limits allow."""
    walker = _Walker(tracker)
    segments = walker.walk(message, 0, in_report=False)
    if not any(s.text is not None or s.html is not None for s in segments):
        segments = walker.fallback_bodies
    text, html = _assemble(segments)
    return MimeContent(text, html, walker.attachments, walker.has_calendar)


class _Walker:
    def __init__(self, tracker: LimitTracker) -> None:
        self.tracker = tracker
        self.attachments: list[AttachmentPart] = []
        self.fallback_bodies: list[_Segment] = []
        self.has_calendar = False

    def walk(self, part: Message, depth: int, *, in_report: bool) -> list[_Segment]:
        if self.tracker.expired():
            return []
        if depth > self.tracker.limits.max_depth:
            self.tracker.flag(LIMIT_DEPTH)
            return []
        if not self.tracker.take_part():
            return []
        info = _PartInfo.of(part)
        kind = info.content_type
        if part.is_multipart():
            children = list(_children(part))
            if kind in _MESSAGE_TYPES:
                return self._message(part, info, children, depth, in_report=in_report)
            if kind.startswith("message/"):
                self._attach(part, info)
                return []
            if kind == "multipart/alternative":
                return self._alternative(children, depth, in_report=in_report)
            if kind == "multipart/encrypted":
                for child in children:
                    self._forced_attachment(child, depth + 1)
                return []
            segments: list[_Segment] = []
            for index, child in enumerate(children):
                if kind == "multipart/signed" and index > 0:
                    self._forced_attachment(child, depth + 1)
                else:
                    report = in_report or kind == "multipart/report"
                    segments += self.walk(child, depth + 1, in_report=report)
            return segments
        return self._leaf(part, info)

    def _leaf(self, part: Message, info: _PartInfo) -> list[_Segment]:
        kind = info.content_type
        if kind.startswith("multipart/"):
            # a multipart without a usable boundary: its payload is the only text there is
            kind = "text/plain"
        name = (info.filename or "").lower()
        if kind in _CALENDAR_TYPES or name.endswith((".ics", ".vcs")):
            self.has_calendar = True
            self._attach(part, info)
            return []
        is_body = info.disposition != "attachment" and (
            info.filename is None or info.disposition == "inline"
        )
        if is_body and kind in ("text/plain", "text/html"):
            data = self._decoded(part, info)
            if data is None:
                return []
            text = decode_bytes(data, info.params.get("charset"))
            return [_Segment(text, None) if kind == "text/plain" else _Segment(None, text)]
        if kind == "application/ms-tnef" or name == "winmail.dat":
            self._tnef(part, info)
            return []
        self._attach(part, info)
        return []

    def _alternative(
        self, children: list[Message], depth: int, *, in_report: bool
    ) -> list[_Segment]:
        texts: list[str] = []
        htmls: list[str] = []
        skipped: list[Message] = []
        for child in children:
            if len(children) > 1 and _quick_type(child) in _SKIPPED_ALTERNATIVES:
                skipped.append(child)
                continue
            text, html = _assemble_parts(self.walk(child, depth + 1, in_report=in_report))
            if text is not None:
                texts.append(text)
            if html is not None:
                htmls.append(html)
        if not texts and not htmls:
            return [
                s for child in skipped for s in self.walk(child, depth + 1, in_report=in_report)
            ]
        return [_Segment(texts[0] if texts else None, htmls[-1] if htmls else None)]

    def _message(
        self,
        part: Message,
        info: _PartInfo,
        children: list[Message],
        depth: int,
        *,
        in_report: bool,
    ) -> list[_Segment]:
        self._attach(part, info)
        if in_report or not children:
            return []
        inner = children[0]
        text, html = _assemble(self.walk(inner, depth + 1, in_report=False))
        lines = ["---------- Forwarded message ----------"]
        for key, label in _FORWARDED_HEADERS:
            value = inner.get(key)
            if value is not None:
                lines.append(
                    f"{label}: {_decode_words(fix_surrogates(_LINESEP.sub('', str(value)).strip()))}"
                )
        header = "\n".join(lines)
        forwarded_html = None
        if html is not None:
            forwarded_html = "<hr><p>" + "<br>".join(escape(line) for line in lines) + "</p>" + html
        return [_Segment(f"{header}\n\n{text or ''}", forwarded_html)]

    def _forced_attachment(self, part: Message, depth: int) -> None:
        if self.tracker.expired() or not self.tracker.take_part():
            return
        if depth > self.tracker.limits.max_depth:
            self.tracker.flag(LIMIT_DEPTH)
            return
        self._attach(part, _PartInfo.of(part))

    def _attach(self, part: Message, info: _PartInfo) -> None:
        data = self._decoded(part, info)
        if data is None:
            return
        self.attachments.append(
            make_attachment(
                data,
                filename=info.filename,
                content_type=info.content_type,
                number=len(self.attachments) + 1,
                content_id=info.content_id,
                inline=info.disposition == "inline"
                or (info.disposition is None and bool(info.content_id)),
            )
        )

    def _tnef(self, part: Message, info: _PartInfo) -> None:
        data = self._decoded(part, info)
        if data is None:
            return
        content = read_tnef(data)
        if content is None or not (content.attachments or content.body_text or content.body_html):
            self._attach(part, info)
            return
        for item in content.attachments:
            if not self.tracker.take_part():
                break
            self.attachments.append(
                make_attachment(
                    item.data,
                    filename=item.filename,
                    content_type=item.content_type
                    or sniff_type(item.data)
                    or "application/octet-stream",
                    number=len(self.attachments) + 1,
                    content_id=item.content_id,
                    inline=False,
                )
            )
        if content.body_text is not None or content.body_html is not None:
            self.fallback_bodies.append(_Segment(content.body_text, content.body_html))

    def _decoded(self, part: Message, info: _PartInfo) -> bytes | None:
        """The part's decoded bytes, or None (flagged) when they would exceed the decoded-size budget."""
        if part.is_multipart():
            data = b"".join(self._serialised(child) for child in _children(part))
            return data if self.tracker.room_for(len(data)) else None
        payload = getattr(
            part, "_payload", None
        )  # the stored payload: get_payload() would re-decode 8-bit text lossily
        raw = _to_bytes(payload)
        encoding = info.transfer_encoding
        estimate = len(raw) * 3 // 4 + 3 if encoding == "base64" else len(raw)
        if not self.tracker.room_for(estimate):
            return None
        if encoding == "base64":
            return decode_base64(raw)
        if encoding == "quoted-printable":
            return binascii.a2b_qp(_QP_CUT_ESCAPE.sub(b"", raw))
        if encoding in ("x-uuencode", "uuencode", "x-uue", "uue"):
            decoded = part.get_payload(decode=True)
            return decoded if isinstance(decoded, bytes) else raw
        return raw

    def _serialised(self, message: Message) -> bytes:
        """An enclosed message written back out; the generator has known failures on broken input."""
        try:
            return message.as_bytes(policy=policy.compat32)
        except RecursionError:
            self.tracker.flag(LIMIT_DEPTH)
            return b""
        except (UnicodeError, ValueError, LookupError, TypeError, AttributeError):
            try:
                text = message.as_string(policy=policy.compat32)
            except (UnicodeError, ValueError, LookupError, TypeError, AttributeError):
                return b""
            return text.encode("utf-8", "surrogateescape")


def decode_base64(data: bytes) -> bytes:
    """Base64 decoded leniently: junk characters ignored, a truncated tail decoded as far as it goes."""
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        clean = _NOT_BASE64.sub(b"", data.split(b"=", 1)[0])
        cut = len(clean) - len(clean) % 4
        head = binascii.a2b_base64(clean[:cut]) if cut else b""
        tail = clean[cut:]
        if len(tail) >= 2:
            head += binascii.a2b_base64(tail + b"=" * (4 - len(tail)))
        return head


def _to_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _children(part: Message) -> Iterator[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        yield from (child for child in payload if isinstance(child, Message))


def _quick_type(part: Message) -> str:
    value = part.get("content-type")
    return str(value).split(";", 1)[0].strip().lower() if value is not None else "text/plain"


def _assemble_parts(segments: list[_Segment]) -> tuple[str | None, str | None]:
    """Text only from real text parts, HTML only from HTML parts (for choosing between alternatives)."""
    texts = [s.text for s in segments if s.text is not None]
    htmls = [s.html for s in segments if s.html is not None]
    return (_join(texts) if texts else None, "".join(htmls) if htmls else None)


def _assemble(segments: list[_Segment]) -> tuple[str | None, str | None]:
    """One text and one HTML body from the segments in order; each made from the other where missing."""
    if not segments:
        return None, None
    texts = [s.text if s.text is not None else html_to_text(s.html or "") for s in segments]
    if not any(s.html is not None for s in segments):
        return _join(texts), None
    htmls = [
        s.html if s.html is not None else f"<pre>{escape(s.text or '')}</pre>" for s in segments
    ]
    return _join(texts), "".join(htmls)


def _join(texts: list[str]) -> str:
    return texts[0] if len(texts) == 1 else "\n\n".join(t.rstrip() for t in texts)


def _params(value: str) -> tuple[str, dict[str, str]]:
    """A structured header's main value (lower-cased) and parameters, RFC 2231 decoded; never raises."""
    pieces = _split_semicolons(value)
    main = pieces[0].strip().lower() if pieces else ""
    pairs: list[tuple[str, str]] = [("", main)]
    for piece in pieces[1:]:
        name, sep, raw = piece.partition("=")
        if sep and name.strip():
            pairs.append((name.strip().lower(), raw.strip()))
    result: dict[str, str] = {}
    try:
        decoded = decode_params(pairs)
    except (ValueError, LookupError, IndexError, TypeError):
        decoded = [(n, v.strip('"')) for n, v in pairs]
    for name, item in decoded[1:]:
        try:
            text = collapse_rfc2231_value(item, errors="replace", fallback_charset="utf-8")
        except (ValueError, LookupError, TypeError):
            text = str(item)
        result.setdefault(name, str(text))
    return main, result


def _split_semicolons(value: str) -> list[str]:
    """`value` split at semicolons outside double quotes."""
    if '"' not in value:
        return value.split(";")
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    return pieces


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded (also where clients put them illegally, in parameters)."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    # HeaderParseError: a base64 word of impossible length
    except (ValueError, LookupError, UnicodeError, binascii.Error, HeaderParseError):
        return value
    try:
        return str(make_header(chunks))
    except (ValueError, LookupError, UnicodeError):
        # an unknown or lying charset in a word: decode each word as text is decoded
        return "".join(
            c if isinstance(c, str) else decode_bytes(c, charset or "ascii")
            for c, charset in chunks
        )
