"""The new text of a reply: quoted history and signature split off. Pure, no I/O.

`split_reply(text, html=...)` returns `ReplySplit(reply_text, quoted, signature)`.
The full body is always kept elsewhere; this only decides what a ticket's
conversation shows as "what the customer added this time".

Rules, in order (the line patterns live in `_reply_rules`):

1. HTML structure, when there is HTML: the first quote container (Gmail
   `gmail_quote`, Yahoo `yahoo_quoted`, any `<blockquote>` -- Apple Mail's and
   Thunderbird's `type=cite` among them) or Outlook separator (`divRplyFwdMsg`,
   `appendonsend`, `<hr tabindex=-1>`, a box with a top border) ends the
   reply, unless new text follows a container (inline answers). The cut is
   carried over to the text version by matching the words before it; for a
   text made from the HTML, blockquotes become `>` lines. See `_reply_html`.
2. Hard cuts on unquoted lines: an Outlook-style header block (From/Sent/To/
   Subject in any of the supported languages, with a separator line above it
   included), "-----Original Message-----", forward banners, and an
   attribution line ("On ... wrote:", wrapped over up to three lines) that is
   not followed by `>` quoting.
3. `>` quoting at any depth: an attribution followed by `>` lines is removed
   with them; trailing quote blocks are dropped; a leading quote block is
   dropped when a single block of new text follows it (bottom-posting), but
   kept when quotes and answers alternate (inline answers need their questions).
4. Signature: from a "-- " line, a mobile line ("Sent from my iPhone", "Dikirim
   dari iPhone saya", ...), or -- after a closing line such as "Regards," and
   the name under it -- a short block of contact lines (phone, e-mail, web).
   The closing and the name stay in the reply.
5. Never empty when the message has new text: a forward with no note of its
   own (the forwarded mail is new to the ticket) and a message that is only
   a signature give the full text back. A reply that only quotes is empty.
"""

# ruff: noqa: RUF001  # full-width colons are how Chinese and Japanese attributions end

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from enum import Enum

from postdesk_parser import _reply_rules as rules
from postdesk_parser._reply_html import HtmlView, line_after, read_html

__all__ = ["MAX_SCANNED_LINES", "ReplySplit", "split_reply"]

_LINESEP = re.compile(r"\r\n|\r|\n")
_QUOTE = re.compile(r"^\s*>")
# Quote headers sit near the top of real mail; scanning stops here so hostile bodies stay cheap.
MAX_SCANNED_LINES = 2000
_MAX_ATTRIBUTION_LINES = 3
_HEADER_WINDOW = 7
_MAX_SIGNATURE_TAIL = 8
_MAX_SIGNATURE_LINE = 80
_DIGIT_OR_AT = re.compile(r"[\d@]")
_WORD = re.compile(r"\S+")
_ATTRIBUTION_ENDINGS = (":", "：", "wrote", "menulis", "Wrote", "Menulis", "WROTE")


@dataclass(frozen=True)
class ReplySplit:
    """A message body split into the new reply text, the quoted history and the signature."""

    reply_text: str
    quoted: str
    signature: str


class _Cut(Enum):
    QUOTE = "quote"
    FORWARD = "forward"


def split_reply(text: str, *, html: str | None = None) -> ReplySplit:
    """Split `text` (the plain-text body; `html` helps find the quote) into reply, quote and signature."""
    view = read_html(html) if html else None
    source = text or ""
    if view is not None and view.words == _WORD.findall(source):
        # the text was made from this HTML: use the rendering that keeps blockquotes as ">" lines
        source = view.quoted_text
    lines = [line.rstrip() for line in _LINESEP.split(source)]
    split = _split(lines)
    if (
        view is not None
        and view.prefix is not None
        and not split.inline
        and _same_content(view, source)
    ):
        cut = line_after(source, view.prefix)
        if cut is not None:
            split = _split(lines[:cut], lines[cut:])
    if not split.reply and (split.forward or not split.quoted):
        # a bare forward brings new mail to the ticket; a lone signature is all there is
        return ReplySplit(reply_text=_join(_LINESEP.split(text or "")), quoted="", signature="")
    return ReplySplit(reply_text=split.reply, quoted=split.quoted, signature=split.signature)


def _same_content(view: HtmlView, text: str) -> bool:
    """The HTML and the text alternatives say mostly the same words (so a cut in one maps to the other)."""
    words = Counter(_WORD.findall(text.replace(">", " ")))
    shared = sum((words & Counter(view.words)).values())
    return bool(words) and shared * 2 >= sum(words.values())


@dataclass(frozen=True)
class _Split:
    reply: str
    quoted: str
    signature: str
    forward: bool
    inline: bool


def _split(lines: list[str], tail: list[str] | None = None) -> _Split:
    """Text rules on `lines`; `tail` is history already known to be quoted (from the HTML)."""
    cut, kind = _hard_cut(lines)
    quoted = lines[cut:] + (tail or [])
    body, removed = _strip_quote_blocks(lines[:cut])
    quoted = removed + quoted
    body, signature = _split_signature(body)
    return _Split(
        reply=_join(body),
        quoted=_join(quoted),
        signature=_join(signature),
        forward=kind is _Cut.FORWARD or _is_forward(quoted),
        inline=any(_QUOTE.match(line) for line in body),
    )


def _join(lines: list[str]) -> str:
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()


def _hard_cut(lines: list[str]) -> tuple[int, _Cut | None]:
    """Index of the first line of quoted history that needs no `>` to be recognised."""
    for i, line in enumerate(lines[:MAX_SCANNED_LINES]):
        stripped = line.strip()
        if not stripped or _QUOTE.match(line):
            continue
        if rules.FORWARD_BANNER.match(stripped):
            return i, _Cut.FORWARD
        if rules.ORIGINAL_MESSAGE.match(stripped):
            return i, _forward_or_quote(lines, i + 1)
        if rules.SEPARATOR.match(stripped) and _header_block_at(
            lines, _next_nonblank(lines, i + 1)
        ):
            return i, _forward_or_quote(lines, i + 1)
        if _header_block_at(lines, i):
            return i, _forward_or_quote(lines, i)
        span = _attribution_at(lines, i)
        if span and not _quote_follows(lines, i + span):
            return i, _Cut.QUOTE
    return len(lines), None


def _next_nonblank(lines: list[str], start: int) -> int:
    for i in range(start, len(lines)):
        if lines[i].strip():
            return i
    return len(lines)


def _header_block_at(lines: list[str], i: int) -> bool:
    """An Outlook-style header block (From: then two of Sent/Date/To/Subject/Cc) starts at `i`."""
    if i >= len(lines) or not rules.FROM_KEY.match(lines[i]):
        return False
    window = lines[i + 1 : i + _HEADER_WINDOW]
    return sum(1 for line in window if rules.OTHER_KEYS.match(line)) >= 2


def _forward_or_quote(lines: list[str], start: int) -> _Cut:
    window = lines[start : start + _HEADER_WINDOW + 2]
    return _Cut.FORWARD if any(rules.FORWARD_SUBJECT.match(line) for line in window) else _Cut.QUOTE


def _attribution_at(lines: list[str], i: int) -> int:
    """How many lines (1 to 3) form a reply attribution starting at `i`; 0 if none does."""
    for span in range(1, _MAX_ATTRIBUTION_LINES + 1):
        if i + span > len(lines):
            return 0
        # the lines before this one passed the same test at the smaller spans
        last = lines[i + span - 1]
        if not last.strip() or _QUOTE.match(last):
            return 0
        if not last.endswith(_ATTRIBUTION_ENDINGS):
            continue  # every attribution ends so; this keeps prose lines cheap
        chunk = lines[i : i + span]
        joined = " ".join(line.strip() for line in chunk)
        if len(joined) > rules.MAX_ATTRIBUTION_CHARS:
            return 0
        colon = joined.endswith((":", "："))
        verb_end = joined.rstrip(":：").rstrip().lower() if colon else ""
        if verb_end.endswith(rules.ATTRIBUTION_VERBS) or rules.ATTRIBUTION_LEAD.match(joined):
            return span
        if verb_end.endswith(rules.GENERIC_VERBS) and (
            _DIGIT_OR_AT.search(joined) or _quote_follows(lines, i + span)
        ):
            return span
    return 0


def _quote_follows(lines: list[str], start: int) -> bool:
    j = _next_nonblank(lines, start)
    return j < len(lines) and bool(_QUOTE.match(lines[j]))


def _strip_quote_blocks(lines: list[str]) -> tuple[list[str], list[str]]:
    """Drop `>` quote blocks (with the attributions that introduce them) that are not inline context."""
    dropped: set[int] = set()
    kept: list[int] = []
    i = 0
    while i < len(lines):
        span = 0 if _QUOTE.match(lines[i]) or i >= MAX_SCANNED_LINES else _attribution_at(lines, i)
        if span:
            dropped.update(range(i, i + span))
            i += span
            continue
        kept.append(i)
        i += 1
    segments = _segments(lines, kept)
    while segments and segments[-1][0]:
        dropped.update(segments.pop()[1])
    if sum(1 for is_quote, _ in segments if not is_quote) == 1:
        while segments and segments[0][0]:
            dropped.update(segments.pop(0)[1])
    body = [lines[i] for _, block in segments for i in block]
    return body, [lines[i] for i in sorted(dropped)]


def _segments(lines: list[str], indices: list[int]) -> list[tuple[bool, list[int]]]:
    """Consecutive runs of quoted and unquoted lines; blank lines join the run before them."""
    segments: list[tuple[bool, list[int]]] = []
    for i in indices:
        line = lines[i]
        is_quote = bool(_QUOTE.match(line))
        if not segments and not line.strip():
            continue  # leading blank lines belong to no run
        if segments and (not line.strip() or segments[-1][0] == is_quote):
            segments[-1][1].append(i)
        else:
            segments.append((is_quote and bool(line.strip()), [i]))
    return segments


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    for i, line in enumerate(lines):
        if rules.SIGNATURE_DELIMITER.match(line) and not _QUOTE.match(line):
            return lines[:i], lines[i + 1 :]
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    for i in nonblank[-3:]:
        if rules.MOBILE_SIGNATURE.match(lines[i].strip()):
            return lines[:i], lines[i:]
    return _contact_block(lines, nonblank)


def _contact_block(lines: list[str], nonblank: list[int]) -> tuple[list[str], list[str]]:
    """After "Regards,\\nName": a short tail with a phone, address or URL is a signature."""
    tail_start = max(0, len(nonblank) - _MAX_SIGNATURE_TAIL - 2)
    for position in range(len(nonblank) - 3, tail_start - 1, -1):
        closing = nonblank[position]
        if not rules.VALEDICTION.match(lines[closing].strip()):
            continue
        rest = nonblank[position + 2 :]
        if (
            rest
            and len(rest) <= _MAX_SIGNATURE_TAIL
            and all(len(lines[j].strip()) <= _MAX_SIGNATURE_LINE for j in rest)
            and any(rules.CONTACT.search(lines[j]) for j in rest)
        ):
            return lines[: rest[0]], lines[rest[0] :]
        return lines, []
    return lines, []


def _is_forward(lines: list[str]) -> bool:
    """The quoted part is a forwarded mail (banner first, or a Fwd:/WG:/TR: subject in its header)."""
    first = _next_nonblank(lines, 0)
    if first < len(lines) and rules.FORWARD_BANNER.match(lines[first].strip()):
        return True
    return _forward_or_quote(lines, first) is _Cut.FORWARD
