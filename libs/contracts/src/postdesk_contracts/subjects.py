"""Subjects: reply/forward prefixes and ticket tags, shared by the parser and the router.

- `normalize_subject`: the subject without any run of reply/forward prefixes
  (Re:, Fwd:, AW:, WG:, SV:, Balas:, 回复:, RE[2]:, Re^2:, ... with ASCII or
  full-width colons), bracketed tags ([EXTERNAL], [SPAM], [#1234], ...) and
  whitespace runs, case-folded. Two messages of one conversation written in
  different clients and languages get the same key. `conversation_topic` is
  the same with the case kept (the Thread-Topic of the mail postdesk sends).
- Ticket tags: postdesk writes `[#1234]` into the subjects it sends
  (`format_ticket_tag`). `find_ticket_tag` reads that and the longer
  `[Ticket#1234]` / `[Ticket #1234]` other helpdesks use, and returns the
  number as a decimal string ("1234"). The last tag wins: a forwarded
  thread's own tag comes after an older one.
"""

from __future__ import annotations

import re

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


def format_ticket_tag(number: int) -> str:
    """The tag postdesk puts in the subjects it sends: `[#1234]`."""
    return f"[#{number}]"


def find_ticket_tag(subject: str) -> str | None:
    """The ticket number of the last `[#1234]` or `[Ticket#1234]` tag in the subject."""
    found = _TICKET_TAG.findall(subject)
    return str(int(found[-1])) if found else None


def conversation_topic(subject: str) -> str:
    """The subject without reply/forward prefixes and bracketed tags, whitespace collapsed,
    case kept: what Outlook shows as the conversation's topic (Thread-Topic)."""
    rest = subject.replace("\u3000", " ")
    rest = _TICKET_TAG.sub(" ", rest)
    while True:
        stripped = _PREFIX.sub("", rest, count=1)
        if stripped == rest:
            break
        rest = stripped
    return _WHITESPACE.sub(" ", rest).strip()


def normalize_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and bracketed tags, whitespace collapsed, case-folded."""
    return conversation_topic(subject).casefold()
