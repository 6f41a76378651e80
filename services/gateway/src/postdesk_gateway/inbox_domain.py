"""Pure rules of the inbox: its page cursors (bound to one sort), tag normalisation, and
the headers an attachment is served with."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from postdesk_contracts.api_inbox import MAX_TAG_CHARS, MAX_TAGS, TagEdit

from postdesk_gateway.domain import (
    InvalidCursorError,
    UnprocessableError,
    decode_token,
    encode_token,
)

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
_TIME_SORTS = ("last_message_at", "created_at")
_INT_SORTS = ("priority", "number")

SortValue = datetime | int


@dataclass(frozen=True)
class InboxCursor:
    """Position after the last ticket of a page: its sort key and id, under one sort."""

    sort: str
    direction: str
    value: SortValue
    ticket_id: uuid.UUID


def encode_inbox_cursor(cursor: InboxCursor) -> str:
    """An opaque, URL-safe token for `cursor`."""
    value = cursor.value.isoformat() if isinstance(cursor.value, datetime) else cursor.value
    return encode_token(
        {"s": cursor.sort, "d": cursor.direction, "v": value, "i": str(cursor.ticket_id)}
    )


def decode_inbox_cursor(token: str, *, sort: str, direction: str) -> InboxCursor:
    """The cursor `encode_inbox_cursor` produced for this sort and direction;
    `InvalidCursorError` for anything else (a cursor of another sort included)."""
    data = decode_token(token)
    try:
        ticket_id = uuid.UUID(data["i"])
        value = _sort_value(data["s"], data["v"])
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
    if data["s"] != sort or data["d"] != direction:
        raise InvalidCursorError("cursor belongs to another sort order")
    return InboxCursor(sort, direction, value, ticket_id)


def _sort_value(sort: str, raw: object) -> SortValue:
    if sort in _TIME_SORTS and isinstance(raw, str):
        when = datetime.fromisoformat(raw)
        if when.tzinfo is None:
            raise ValueError("naive time")
        return when
    if sort in _INT_SORTS and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    raise ValueError("bad sort value")


def normalise_tag(tag: str) -> str:
    """Trimmed and lower-cased; `UnprocessableError` when empty or too long."""
    clean = " ".join(tag.split()).lower()
    if not clean or len(clean) > MAX_TAG_CHARS:
        raise UnprocessableError(f"a tag must be 1 to {MAX_TAG_CHARS} characters")
    return clean


def _unique(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(normalise_tag(t) for t in tags))


def edited_tags(current: Sequence[str], edit: TagEdit) -> list[str]:
    """The tags after `edit`: `set` replaces them, else `add` then `remove` apply; order
    kept, duplicates dropped. `UnprocessableError` beyond `MAX_TAGS`."""
    base = _unique(edit.set) if edit.set is not None else list(current)
    removed = set(_unique(edit.remove))
    result = [t for t in _unique([*base, *edit.add]) if t not in removed]
    if len(result) > MAX_TAGS:
        raise UnprocessableError(f"a ticket has at most {MAX_TAGS} tags")
    return result


# Media types a browser may be told an attachment is: none of them runs script when opened.
SAFE_ATTACHMENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/csv",
        "audio/mpeg",
        "video/mp4",
    }
)
FALLBACK_CONTENT_TYPE = "application/octet-stream"
_ASCII_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9!#$&+.^_`|~ -]")


def served_content_type(stored: str) -> str:
    """The stored media type when it is on the allow-list, else application/octet-stream."""
    media = stored.split(";", 1)[0].strip().lower()
    return media if media in SAFE_ATTACHMENT_TYPES else FALLBACK_CONTENT_TYPE


def attachment_disposition(filename: str) -> str:
    """`Content-Disposition: attachment` with an ASCII fallback name and the real one as
    RFC 5987 `filename*` (RFC 6266 section 4.3)."""
    fallback = _ASCII_FILENAME_UNSAFE.sub("_", filename).strip() or "attachment"
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
