"""Pure rules of the gateway: who the caller is, page cursors, reply headers, ticket changes.

No I/O and no framework here. Errors the HTTP layer turns into problem
responses:

    GatewayError
    ├── AuthenticationError  (401: bad credentials or token; one answer for every cause)
    ├── NotFoundError              (404: missing *or not visible*; never says which)
    ├── ForbiddenError             (403: visible, but the caller lacks the right)
    └── InvalidCursorError         (400: a cursor we did not issue)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

MAX_CURSOR_CHARS = 256
MAX_REFERENCES = 20

_REPLY_PREFIX = re.compile(r"^re\s*:", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


class GatewayError(Exception):
    """Base of the errors the gateway answers with a problem response."""


class AuthenticationError(GatewayError):
    pass


class NotFoundError(GatewayError):
    pass


class ForbiddenError(GatewayError):
    pass


class InvalidCursorError(GatewayError):
    pass


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated, active user a request acts for."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    full_name: str
    role: str
    department_id: uuid.UUID | None
    is_admin: bool


@dataclass(frozen=True)
class TicketCursor:
    """Position after the last ticket of a page, in (last_message_at DESC, id DESC) order."""

    last_message_at: datetime
    ticket_id: uuid.UUID


def encode_cursor(cursor: TicketCursor) -> str:
    """An opaque, URL-safe token for `cursor`."""
    raw = json.dumps(
        {"t": cursor.last_message_at.isoformat(), "i": str(cursor.ticket_id)},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode_cursor(token: str) -> TicketCursor:
    """The cursor `encode_cursor` produced; `InvalidCursorError` for anything else."""
    if not token or len(token) > MAX_CURSOR_CHARS:
        raise InvalidCursorError("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        when = datetime.fromisoformat(data["t"])
        ticket_id = uuid.UUID(data["i"])
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
    if when.tzinfo is None:
        raise InvalidCursorError("cursor is not valid")
    return TicketCursor(last_message_at=when, ticket_id=ticket_id)


def reply_subject(subject: str) -> str:
    """`Re: <subject>`, unless the subject already starts with a Re: prefix.

    Whitespace, line breaks included, collapses to single spaces, so a stored
    subject can never inject a header line.
    """
    clean = _WHITESPACE.sub(" ", subject).strip()
    if _REPLY_PREFIX.match(clean):
        return clean
    return f"Re: {clean}" if clean else "Re:"


def reply_references(parent_message_id: str, parent_references: list[str]) -> list[str]:
    """References of a reply (RFC 5322 3.6.4): the parent's references, then the parent.

    Duplicates are dropped; a long chain keeps its root and the most recent ids.
    """
    chain: list[str] = []
    for message_id in [*parent_references, parent_message_id]:
        if message_id and message_id not in chain:
            chain.append(message_id)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return chain


@dataclass(frozen=True)
class FieldChange:
    """One field of a ticket an agent changed, as text."""

    field: str
    old: str
    new: str


def field_changes(
    current: Mapping[str, str], wanted: Mapping[str, str | None]
) -> list[FieldChange]:
    """The fields of `wanted` whose value differs from `current`, in `wanted`'s order.

    None in `wanted` means "leave as it is", so asking for the values a ticket
    already has changes nothing.
    """
    return [
        FieldChange(name, current[name], value)
        for name, value in wanted.items()
        if value is not None and value != current[name]
    ]
