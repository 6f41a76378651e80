"""Where the quoted history starts, read from an HTML body's structure. Pure, no I/O.

Mail clients mark quoted history in HTML far more reliably than in text:
Gmail wraps it in `div.gmail_quote`, Apple Mail and Thunderbird in
`blockquote type=cite`, Yahoo in `div.yahoo_quoted`, Outlook puts a
`div#divRplyFwdMsg`, `div#appendonsend`, an `<hr tabindex=-1>` or a box with a
top border before the header block. This walks the HTML once with the same
extractor `_html.html_to_text` uses, notes the text before the first marker,
and finds where that text ends in the plain-text body.

Containers (quote wrappers) end the reply only when no new text follows
them (otherwise the mail answers inline and the text rules decide);
separators (Outlook) end it for good: the quoted mail follows them as
siblings, not children.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postdesk_parser._html import _TextExtractor

__all__ = ["HtmlView", "line_after", "read_html"]

_CONTAINER_CLASSES = ("gmail_quote", "yahoo_quoted", "protonmail_quote")
_SEPARATOR_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")
_BORDER_TOP = re.compile(r"border-top\s*:\s*solid", re.IGNORECASE)
_WORD = re.compile(r"\S+")
_TAIL_WORDS = 6
_DEPTH_MARK = (
    "\x01"  # prefixed to text inside <blockquote>, once per level; never in extracted text
)
_DEPTH_RUN = re.compile(_DEPTH_MARK + "+")


class _QuoteFinder(_TextExtractor):
    """Text extraction that also records where the first quote marker starts."""

    def __init__(self) -> None:
        super().__init__()
        self.marker_at: int | None = None
        self.inline_after = False
        self._container: str | None = None
        self._depth = 0
        self._closed = False
        self._blockquotes = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.marker_at is None:
            kind = _marker(tag, {k.lower(): (v or "") for k, v in attrs})
            if kind is not None:
                self.marker_at = len(self.chunks)
                if kind == "container":
                    self._container, self._depth = tag, 0
                else:
                    self._closed = False
        if self._container == tag and not self._closed:
            self._depth += 1
        if tag == "blockquote":
            self._blockquotes += 1
        super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self._container == tag and not self._closed:
            self._depth -= 1
            if self._depth <= 0:
                self._closed = True
        if tag == "blockquote":
            self._blockquotes = max(0, self._blockquotes - 1)
        super().handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if (
            self._container is not None
            and self._closed
            and data.strip()
            and not self._skipping
            and not self._blockquotes  # later quote blocks (Apple's second blockquote) are not new text
        ):
            self.inline_after = True
        if self._blockquotes and not self._skipping:
            data = _DEPTH_MARK * self._blockquotes + data
        super().handle_data(data)


def _marker(tag: str, attrs: dict[str, str]) -> str | None:
    classes = attrs.get("class", "").lower().split()
    if tag in {"div", "blockquote"} and any(
        c.startswith(_CONTAINER_CLASSES) or "yahoo_quoted" in c for c in classes
    ):
        return "container"
    if tag == "blockquote":
        return "container"
    element_id = attrs.get("id", "").lower()
    if element_id.startswith(_SEPARATOR_IDS) or element_id.startswith("x_divrplyfwdmsg"):
        return "separator"
    if "yahoo_quoted" in element_id:
        return "container"
    if tag == "hr" and attrs.get("tabindex") == "-1":
        return "separator"
    if tag == "div" and _BORDER_TOP.search(attrs.get("style", "")):
        return "separator"
    return None


@dataclass(frozen=True)
class HtmlView:
    """What the HTML says: its words, its text with `>` for blockquote levels, and the words before the quote."""

    words: list[str]
    quoted_text: str
    prefix: list[str] | None


def read_html(html: str) -> HtmlView | None:
    """Read `html` once; None when the markup is too broken for html.parser."""
    finder = _QuoteFinder()
    try:
        finder.feed(html)
        finder.close()
    except (AssertionError, ValueError):  # html.parser's own errors on broken markup
        return None
    lines = [" ".join(line.split()) for line in "".join(finder.chunks).splitlines()]
    quoted_lines: list[str] = []
    plain_lines: list[str] = []
    for line in lines:
        runs = _DEPTH_RUN.findall(line)
        depth = max((len(run) for run in runs), default=0)
        plain = line.replace(_DEPTH_MARK, "").strip()
        plain_lines.append(plain)
        quoted_lines.append(f"{'>' * depth} {plain}" if depth and plain else plain)
    quoted_text = re.sub(r"\n{3,}", "\n\n", "\n".join(quoted_lines)).strip()
    prefix = None
    if finder.marker_at is not None and not finder.inline_after:
        before = "".join(finder.chunks[: finder.marker_at]).replace(_DEPTH_MARK, "")
        prefix = _WORD.findall(before)
    return HtmlView(
        words=_WORD.findall("\n".join(plain_lines)),
        quoted_text=quoted_text,
        prefix=prefix,
    )


def line_after(text: str, prefix: list[str]) -> int | None:
    """The line of `text` after the one where the words of `prefix` end (0 if `prefix` is empty)."""
    if not prefix:
        return 0
    lines = text.splitlines()
    words = [
        (word, number)
        for number, line in enumerate(lines)
        for word in _WORD.findall(line)
        if word.strip(">")
    ]
    tail = prefix[-_TAIL_WORDS:]
    best: int | None = None
    for end in range(len(tail), len(words) + 1):
        if [w for w, _ in words[end - len(tail) : end]] == tail and (
            best is None or abs(end - len(prefix)) < abs(best - len(prefix))
        ):
            best = end
    if best is None:
        return None
    return words[best - 1][1] + 1
