"""Threading keys besides Message-ID/In-Reply-To/References: pure string rules.

- `normalize_subject`: the subject without any run of reply/forward prefixes
  (Re:, Fwd:, AW:, WG:, SV:, Balas:, 回复:, RE[2]:, Re^2:, ... with ASCII or
  full-width colons), bracketed tags ([EXTERNAL], [SPAM], [#1234], ...) and
  whitespace runs, case-folded. Two messages of one conversation written in
  different clients and languages get the same key.
- Ticket tags: postdesk writes `[#1234]` into the subjects it sends
  (`format_ticket_tag`; see docs/parse-command.md). `find_ticket_tag` reads
  that and the longer `[Ticket#1234]` / `[Ticket #1234]` other helpdesks use,
  and returns the number as a decimal string ("1234"). The last tag wins:
  a forwarded thread's own tag comes after an older one.
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
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_PREFIX_WORDS = (
    "re",
    "fwd",
    "fw",
    "aw",
    "wg",
    "sv",
    "vs",
    "antw",
    "doorst",
    "tr",
    "trs",
    "rv",
    "enc",
    "balas",
    "odp",
    "ynt",
    "vl",
    "rif",
    "回复",
    "答复",
    "回覆",
    "转发",
    "轉寄",
    "返信",
    "転送",
    "ответ",
    "отв",
    "переслать",
)
# One prefix: a word, an optional counter ([2], (2), ^2, *2), a colon (ASCII or full-width);
# or a bracketed tag ([EXTERNAL], 【外部】, [#12]).
_PREFIX = re.compile(
    r"^\s*(?:"
    r"(?:"
    + "|".join(re.escape(w) for w in sorted(set(_PREFIX_WORDS), key=len, reverse=True))
    + r")"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+|\*\d+)?\s*[:\uff1a]"
    r"|\[[^\[\]]{0,40}\]|【[^【】]{0,40}】"
    r")",
    re.IGNORECASE,
)
_TICKET_TAG = re.compile(r"\[\s*(?:ticket\s*)?#\s*(\d{1,12})\s*\]", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
THREAD_INDEX_HEADER_BYTES = 22
THREAD_INDEX_CHILD_BYTES = 5


def format_ticket_tag(number: int) -> str:
    """The tag postdesk puts in the subjects it sends: `[#1234]`."""
    return f"[#{number}]"


def find_ticket_tag(subject: str) -> str | None:
    """The ticket number of the last `[#1234]` or `[Ticket#1234]` tag in the subject."""
    found = _TICKET_TAG.findall(subject)
    return str(int(found[-1])) if found else None


def normalize_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and bracketed tags, whitespace collapsed, case-folded."""
    rest = subject.replace("\u3000", " ")
    rest = _TICKET_TAG.sub(" ", rest)
    while True:
        stripped = _PREFIX.sub("", rest, count=1)
        if stripped == rest:
            break
        rest = stripped
    return _WHITESPACE.sub(" ", rest).strip().casefold()


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
