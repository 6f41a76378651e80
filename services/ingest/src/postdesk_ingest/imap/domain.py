"""IMAP rules, pure: the after-action of a mailbox, where to resume reading, and retry delays.

After-action (imap_mailboxes.after_action, done only once mail.received is
confirmed): "flag" sets \\Seen; "flag:<keyword>" sets that IMAP keyword
instead (e.g. "flag:$Postdesk"); "move" moves the message to
move_to_folder; "leave" touches nothing.

Resuming: ingest reads UIDs greater than last_uid while the folder's
UIDVALIDITY is the one recorded; when it differs (or none is recorded) every
UID is new again and reading restarts after 0. Re-reading is harmless:
ingest's dedupe key (raw bytes + recipients) answers "duplicate".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SEEN = "\\Seen"
BACKFILL_SOURCE = "imap-backfill"
# RFC 3501 flag-keyword: an atom (no specials); a system flag starts with a backslash.
_KEYWORD = re.compile(r"^\\?[!#$&'+\-.0-9:;<=>?@A-Z^_`a-z|~]{1,64}$")


class ConfigError(ValueError):
    """A mailbox row that cannot be used as configured; the message says why."""


def live_source(mailbox_id: object) -> str:
    """The mail.received `source` of mail read by the poller."""
    return f"imap:{mailbox_id}"


@dataclass(frozen=True)
class AfterAction:
    kind: Literal["flag", "move", "leave"]
    flag: str = SEEN
    folder: str | None = None

    @classmethod
    def parse(cls, value: str, move_to_folder: str | None) -> AfterAction:
        name, _, argument = value.strip().partition(":")
        if name == "leave" and not argument:
            return cls("leave")
        if name == "flag":
            flag = argument or SEEN
            if not _KEYWORD.match(flag):
                raise ConfigError(f"not an IMAP flag or keyword: {flag!r}")
            return cls("flag", flag=flag)
        if name == "move" and not argument:
            if not move_to_folder:
                raise ConfigError("after_action 'move' needs move_to_folder")
            return cls("move", folder=move_to_folder)
        raise ConfigError(
            f"unknown after_action {value!r}: use flag, flag:<keyword>, move or leave"
        )


@dataclass(frozen=True)
class Position:
    """Where reading resumes: after `last_uid` of the folder with `uidvalidity`."""

    uidvalidity: int
    last_uid: int
    reset: bool  # the recorded position was for another UIDVALIDITY (or none)


def resume_at(
    recorded_uidvalidity: int | None, recorded_last_uid: int, uidvalidity: int
) -> Position:
    if recorded_uidvalidity == uidvalidity:
        return Position(uidvalidity, recorded_last_uid, reset=False)
    return Position(uidvalidity, 0, reset=True)


def new_uids(uids: list[int], last_uid: int) -> list[int]:
    """UIDs to read, ascending. (`UID SEARCH UID n:*` also answers the highest UID when all are below n.)"""
    return sorted(uid for uid in set(uids) if uid > last_uid)


@dataclass
class Backoff:
    """Exponential delays for retrying a mailbox: initial, doubled up to maximum; reset on success."""

    initial: float
    maximum: float
    _next: float = 0.0

    def delay(self) -> float:
        self._next = min(self.maximum, self._next * 2 if self._next else self.initial)
        return self._next

    def reset(self) -> None:
        self._next = 0.0
