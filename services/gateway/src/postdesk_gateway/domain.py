"""Pure rules of the gateway: who the caller is, page cursors, reply headers, ticket changes.

No I/O and no framework here. Errors the HTTP layer turns into problem
responses:

    GatewayError
    ├── AuthenticationError  (401: bad credentials or token; one answer for every cause)
    ├── NotFoundError              (404: missing *or not visible*; never says which)
    ├── ForbiddenError             (403: visible, but the caller lacks the right)
    ├── InvalidCursorError         (400: a cursor we did not issue)
    ├── InvalidRequestError        (400: a value the request model cannot judge, e.g. a time)
    ├── ConflictError              (409: too late, or not yet; `retry_after` when retrying helps)
    ├── PayloadTooLargeError       (413: an upload, or a mail's attachments, over the limit)
    ├── IdempotencyKeyReusedError  (422: one Idempotency-Key, two different requests)
    ├── UnprocessableError         (422: well-formed, but refused as it stands: `detail` says why)
    └── QuotaExceededError         (429: which quota, and when it frees: `retry_after`)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from postdesk_smtp.quota import QuotaBlock

MAX_CURSOR_CHARS = 256
MAX_REFERENCES = 20
MAX_IDEMPOTENCY_KEY_CHARS = 255
MAX_SCHEDULE_AHEAD = timedelta(days=30)
# Fixed for ever: a retried request must map to the outbound_id it got the first time.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("f0d4c1a2-3b5e-4c6f-8a9d-0e1f2a3b4c5d")

_REPLY_PREFIX = re.compile(r"^re\s*:", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MESSAGE_ID = re.compile(r"^[^<>\s]+@[^<>\s]+$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]+$")


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


class InvalidRequestError(GatewayError):
    pass


class ConflictError(GatewayError):
    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PayloadTooLargeError(GatewayError):
    pass


class IdempotencyKeyReusedError(GatewayError):
    pass


class UnprocessableError(GatewayError):
    pass


class QuotaExceededError(GatewayError):
    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


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


@dataclass(frozen=True, order=True)
class KeyCursor:
    """A position in rows ordered by (a time, an id): a notification's (updated_at, id)."""

    at: datetime
    id: uuid.UUID


def encode_token(data: Mapping[str, Any]) -> str:
    """An opaque, URL-safe, unpadded token carrying `data` (a page cursor's fields)."""
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode_token(token: str) -> Any:
    """The JSON value of a token `encode_token` made; `InvalidCursorError` when it is empty,
    too long or not such a token. The caller checks the fields."""
    if not token or len(token) > MAX_CURSOR_CHARS:
        raise InvalidCursorError("cursor is empty or too long")
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc


def encode_key(cursor: KeyCursor) -> str:
    """An opaque, URL-safe token for `cursor`."""
    return encode_token({"t": cursor.at.isoformat(), "i": str(cursor.id)})


def decode_key(token: str) -> KeyCursor:
    """The cursor `encode_key` produced; `InvalidCursorError` for anything else."""
    data = decode_token(token)
    try:
        when = datetime.fromisoformat(data["t"])
        row_id = uuid.UUID(data["i"])
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
    if when.tzinfo is None:
        raise InvalidCursorError("cursor is not valid")
    return KeyCursor(when, row_id)


def header_text(value: str) -> str:
    """Stored text (a subject, a name) made fit for a header: control characters and
    whitespace runs, line breaks included, become single spaces."""
    return _WHITESPACE.sub(" ", _CONTROL.sub(" ", value)).strip()


def reply_subject(subject: str) -> str:
    """`Re: <subject>`, unless the subject already starts with a Re: prefix.

    Whitespace and control characters, line breaks included, collapse to
    single spaces, so a stored subject can never inject a header line (nor
    make the outbound service refuse the mail).
    """
    clean = header_text(subject)
    if _REPLY_PREFIX.match(clean):
        return clean
    return f"Re: {clean}" if clean else "Re:"


@dataclass(frozen=True)
class FieldChange:
    """One field of a ticket an agent changed, as text (None for no value)."""

    field: str
    old: str | None
    new: str | None


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


def thread_references(thread: Sequence[str], *, parent_references: Sequence[str] = ()) -> list[str]:
    """References of a reply (RFC 5322 3.6.4) built from the ticket's thread.

    `thread` is the Message-IDs of the ticket's messages, inbound and
    outbound, oldest first; `parent_references` the References of the
    message answered, whose ids not on the ticket (older mail the ticket
    began with) come first. Duplicates and values that are not one
    Message-ID are dropped; a long chain keeps its root and the most recent
    ids (`MAX_REFERENCES` in all).
    """
    chain: list[str] = []
    for message_id in [*parent_references, *thread]:
        if is_message_id(message_id) and message_id not in chain:
            chain.append(message_id)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return chain


def is_message_id(value: str) -> bool:
    """One Message-ID without angle brackets, safe to write into a header."""
    return bool(value) and not _CONTROL.search(value) and bool(_MESSAGE_ID.match(value))


def outbound_id_for(user_id: uuid.UUID, idempotency_key: str) -> uuid.UUID:
    """The outbound_id of a user's request with this key: the same on every retry.

    `InvalidRequestError` for a key that is empty, too long or not visible ASCII.
    """
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS or not _IDEMPOTENCY_KEY.match(
        idempotency_key
    ):
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
        )
    return uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{user_id}:{idempotency_key}")


def request_fingerprint(target: uuid.UUID, body: str) -> str:
    """What a retry must repeat exactly to be the same request: what it acts on (the ticket
    of a reply, the mailbox of a new mail) and the body."""
    return hashlib.sha256(f"{target}\n{body}".encode()).hexdigest()


def scheduled_send(send_at: datetime | None, now: datetime) -> datetime | None:
    """A requested send time, checked: in the future, at most `MAX_SCHEDULE_AHEAD` ahead."""
    if send_at is None:
        return None
    if send_at <= now:
        raise InvalidRequestError("send_at must be in the future")
    if send_at > now + MAX_SCHEDULE_AHEAD:
        raise InvalidRequestError(f"send_at must be at most {MAX_SCHEDULE_AHEAD.days} days ahead")
    return send_at


def quota_problem(block: QuotaBlock, now: datetime) -> QuotaExceededError:
    """The 429 to answer a full quota with: which limit, and when the next mail can go."""
    per = "24 hours" if block.window >= timedelta(hours=1) else "minute"
    wait = max(1, math.ceil((block.until - now).total_seconds()))
    return QuotaExceededError(
        f"sending quota {block.name} reached ({block.limit} mails per {per}); "
        f"the next mail can be sent at {block.until.isoformat(timespec='seconds')}",
        retry_after=wait,
    )
