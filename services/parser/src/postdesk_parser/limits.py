"""Limits against hostile mail, and the tracker that enforces them during one parse: pure, no I/O.

A message over a limit is parsed as far as is safe: the tracker records the
limit's name in `hit` (it becomes MailParsed.limits_hit) and the walkers stop
at that point. Only when nothing safe can be read (no header block within the
limits) is `UnparseableMailError` raised, which the service answers with
mail.rejected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = [
    "LIMIT_DECODED_SIZE",
    "LIMIT_DEPTH",
    "LIMIT_HEADERS",
    "LIMIT_HEADER_LINE",
    "LIMIT_PARTS",
    "LIMIT_TIME",
    "LimitTracker",
    "ParseLimits",
    "UnparseableMailError",
    "guard_header_block",
]

MIB = 1024 * 1024
LIMIT_PARTS = "max_parts"
LIMIT_DEPTH = "max_depth"
LIMIT_DECODED_SIZE = "max_decoded_bytes"
LIMIT_HEADERS = "max_headers"
LIMIT_HEADER_LINE = "max_header_line"
LIMIT_TIME = "parse_time"


class UnparseableMailError(ValueError):
    """The bytes are not a message postdesk can take further; `str(error)` is the reason."""


@dataclass(frozen=True)
class ParseLimits:
    """How much of one message the parser is willing to read (defaults suit real mail with room to spare)."""

    max_parts: int = 500
    max_depth: int = 20
    max_decoded_bytes: int = 50 * MIB
    max_headers: int = 1000
    max_header_line: int = 64 * 1024
    max_seconds: float = 5.0


@dataclass
class LimitTracker:
    """The budget left for one parse; `hit` lists the limits reached, in the order they were reached."""

    limits: ParseLimits = field(default_factory=ParseLimits)
    hit: list[str] = field(default_factory=list)
    parts: int = 0
    decoded_bytes: int = 0
    deadline: float = 0.0

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.limits.max_seconds

    def flag(self, name: str) -> None:
        if name not in self.hit:
            self.hit.append(name)

    def expired(self) -> bool:
        """True once the parse-time budget is spent (and flags it)."""
        if time.monotonic() < self.deadline:
            return False
        self.flag(LIMIT_TIME)
        return True

    def take_part(self) -> bool:
        """Count one more MIME part; False (and flagged) once the part budget is spent."""
        self.parts += 1
        if self.parts > self.limits.max_parts:
            self.flag(LIMIT_PARTS)
            return False
        return True

    def room_for(self, size: int) -> bool:
        """Reserve `size` decoded bytes; False (and flagged) when they would exceed the budget."""
        if self.decoded_bytes + size > self.limits.max_decoded_bytes:
            self.flag(LIMIT_DECODED_SIZE)
            return False
        self.decoded_bytes += size
        return True

    def reason(self) -> str:
        return f" (limits hit: {', '.join(self.hit)})" if self.hit else ""


def guard_header_block(raw: bytes, tracker: LimitTracker) -> bytes:
    """`raw` with its top-level header block cut to the header-count and line-length limits.

    Fields past `max_headers` are dropped and lines longer than `max_header_line`
    are cut, so the standard library never holds a hostile header block whole.
    The body is left as it is; the result is what the parser reads.
    """
    limits = tracker.limits
    end = _header_end(raw)
    head = raw[:end]
    if len(head) <= limits.max_header_line and head.count(b"\n") < limits.max_headers:
        return raw  # fast path: cannot exceed either limit
    kept: list[bytes] = []
    fields = 0
    for line in head.splitlines(keepends=True):
        if line[:1] not in (b" ", b"\t"):
            fields += 1
            if fields > limits.max_headers:
                tracker.flag(LIMIT_HEADERS)
                break
        if len(line) > limits.max_header_line:
            tracker.flag(LIMIT_HEADER_LINE)
            line = line[: limits.max_header_line].rstrip(b"\r\n") + b"\r\n"
        kept.append(line)
    if LIMIT_HEADERS in tracker.hit or LIMIT_HEADER_LINE in tracker.hit:
        return b"".join(kept).rstrip(b"\r\n") + b"\r\n\r\n" + raw[end:].lstrip(b"\r\n")
    return raw


def _header_end(raw: bytes) -> int:
    """Offset just past the top-level header block's blank line (or the end)."""
    positions = [p for p in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if p >= 0]
    if not positions:
        return len(raw)
    at = min(positions)
    return at + (4 if raw.startswith(b"\r\n\r\n", at) else 2)
