"""Threading keys besides Message-ID/In-Reply-To/References: pure string rules.

- `normalize_subject`, `find_ticket_tag`, `format_ticket_tag`: subject rules
  shared with the router, in postdesk_contracts.subjects (re-exported here).
- `ThreadIndex`: Outlook's Thread-Index header (base64 of
  PidTagConversationIndex): a 22-byte header block, 6 bytes of FILETIME
  (its high-order bytes) then a 16-byte conversation GUID, followed by one
  5-byte block per reply. Every message of one Outlook conversation shares
  the GUID, so it is a threading key even when References were dropped.
- `plus_tokens`: the `TOKEN` of `local+TOKEN@domain` recipients, e.g. the
  reply address postdesk sends from (reply+TOKEN@...). The parser does not
  know which domains are ours: the router checks a token against its own.
  Addresses are lower-cased by the parser, so tokens must be case-free.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from postdesk_contracts.subjects import find_ticket_tag, format_ticket_tag, normalize_subject

__all__ = [
    "ThreadIndex",
    "decode_thread_index",
    "find_ticket_tag",
    "format_ticket_tag",
    "normalize_subject",
]

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
THREAD_INDEX_HEADER_BYTES = 22
THREAD_INDEX_CHILD_BYTES = 5


@dataclass(frozen=True)
class ThreadIndex:
    """A decoded Outlook Thread-Index."""

    guid: uuid.UUID
    created: datetime | None
    replies: int

    @property
    def root(self) -> str:
        """The conversation key: the GUID of the header block, hex."""
        return self.guid.hex


def decode_thread_index(value: str | None) -> ThreadIndex | None:
    """The conversation GUID, creation time and reply depth of a Thread-Index; None if it is not one."""
    if not value:
        return None
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(data) < THREAD_INDEX_HEADER_BYTES:
        return None
    filetime = int.from_bytes(data[:6], "big") << 16
    try:
        created: datetime | None = _FILETIME_EPOCH + timedelta(microseconds=filetime // 10)
    except OverflowError:
        created = None
    extra = len(data) - THREAD_INDEX_HEADER_BYTES
    return ThreadIndex(
        guid=uuid.UUID(bytes=data[6:THREAD_INDEX_HEADER_BYTES]),
        created=created,
        replies=extra // THREAD_INDEX_CHILD_BYTES,
    )


def plus_tokens(addresses: Iterable[str]) -> list[str]:
    """Tokens of plus-addressed recipients (`reply+TOKEN@x` -> `TOKEN`), in order, without repeats."""
    tokens: list[str] = []
    for address in addresses:
        local, at, _domain = address.rpartition("@")
        if not at or "+" not in local:
            continue
        token = local.split("+", 1)[1].strip()
        if token and token not in tokens:
            tokens.append(token)
    return tokens
