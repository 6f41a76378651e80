"""Outlook's Thread-Index for the mail we send on a ticket. Pure, no I/O.

The value is base64 of PidTagConversationIndex (MS-OXOMSG 2.2.1.3): a
22-byte header block, the high-order 48 bits of a FILETIME (100 ns ticks
since 1601) and a 16-byte conversation GUID, then one 5-byte child block
per reply: a 1-bit code, a 31-bit time delta since the previous block, 4
random bits and a 4-bit sequence number.

Invariants:
- Every mail of one ticket carries the same header block: the GUID derives
  from the ticket id (`conversation_guid`) and the time from the ticket's
  creation, so Outlook keeps the conversation together however the mails
  are sent.
- The number of child blocks is the reply depth: one more for each of our
  earlier messages on the ticket. The deltas add up to the mail's own date;
  the random bits come from the outbound id, so a retried send of one
  request carries the same value when its date is the same.
- The value is folded into lines of at most `FOLD` characters, which
  receivers join again (whitespace is not base64).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime

# Fixed for ever: changing it would split every existing conversation in Outlook.
_GUID_NAMESPACE = uuid.UUID("5b1f3c0e-8f5e-4c8e-9d0a-7a4f2f1c6e21")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_SHORT_DELTA_LIMIT = 1 << 49  # about 1.8 years of ticks: beyond it the coarse code is used
MAX_REPLIES = 100
FOLD = 64


def conversation_guid(ticket_id: uuid.UUID) -> uuid.UUID:
    """The GUID every Thread-Index of the ticket carries (not the ticket id itself)."""
    return uuid.uuid5(_GUID_NAMESPACE, ticket_id.hex)


def filetime(at: datetime) -> int:
    """`at` as a FILETIME: 100 ns ticks since 1601-01-01 UTC."""
    if at.utcoffset() is None:
        raise ValueError("a Thread-Index time needs a timezone")
    delta = at - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def thread_index(
    *, ticket_id: uuid.UUID, started_at: datetime, replies: int, at: datetime, salt: bytes
) -> str:
    """The Thread-Index of a mail `replies` deep in the ticket's conversation, dated `at`.

    `replies` is capped at `MAX_REPLIES`; the result is folded (see `FOLD`).
    """
    header_ticks = filetime(started_at) >> 16
    data = bytearray(header_ticks.to_bytes(6, "big"))
    data += conversation_guid(ticket_id).bytes
    count = max(0, min(replies, MAX_REPLIES))
    noise = hashlib.sha256(salt).digest()
    elapsed = max(0, filetime(at) - (header_ticks << 16))
    for position in range(count):
        # Earlier replies are known only by number: they carry no time of their own, and the
        # last block carries all of it, so the blocks add up to this mail's date.
        delta = elapsed if position == count - 1 else 0
        data += _child_block(delta, random_bits=noise[position % len(noise)] & 0x0F, seq=position)
    return _fold(base64.b64encode(bytes(data)).decode("ascii"))


def _child_block(delta: int, *, random_bits: int, seq: int) -> bytes:
    if delta < _SHORT_DELTA_LIMIT:
        word = (delta >> 18) & 0x7FFFFFFF
    else:
        word = (1 << 31) | ((delta >> 23) & 0x7FFFFFFF)
    return word.to_bytes(4, "big") + bytes([(random_bits << 4) | (seq & 0x0F)])


def _fold(value: str) -> str:
    return "\n ".join(value[i : i + FOLD] for i in range(0, len(value), FOLD))
