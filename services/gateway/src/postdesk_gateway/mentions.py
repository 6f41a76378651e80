"""@mentions in internal notes: finding the handles and judging who they name. Pure.

A mention is `@` and a handle at the start of the text or after a character
that cannot be part of an address (whitespace, most punctuation), so the
`@` inside `a@b.com` or a URL is none. A handle is a login's local part
(`@ana`) or a whole login (`@ana@acme.example`), compared lower-cased; a
trailing full stop or comma ends it (`@ana.` names `ana`).

Judging, for each handle, the users of the author's tenant it could name:
none is plain text (a decorator in a pasted snippet, a customer's
address); several must be written out in full; one who is deactivated, or
who cannot see the ticket, refuses the whole note (422), so nobody is
told of a ticket they cannot open and the author learns it at once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from postdesk_gateway.domain import UnprocessableError

MAX_MENTIONED_USERS = 50

_LOCAL = r"[\w%+\-]+(?:\.[\w%+\-]+)*"
_DOMAIN = r"[\w\-]+(?:\.[\w\-]+)+"
# Not after a character that can sit inside an address or a URL (so a@b.com is no mention).
_MENTION = re.compile(rf"(?<![\w.%+\-@/=&])@({_LOCAL}(?:@{_DOMAIN})?)")


def find_handles(text: str) -> list[str]:
    """The handles mentioned in `text`, lower-cased, each once, in order of appearance."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


@dataclass(frozen=True)
class Candidate:
    """A user of the tenant a handle may name, with what decides whether they may be."""

    user_id: uuid.UUID
    email: str
    is_active: bool
    can_see_ticket: bool


def named_by(handle: str, email: str) -> bool:
    """Whether `handle` names the login `email`: in full, or by its local part."""
    login = email.lower()
    return handle == login if "@" in handle else handle == login.rpartition("@")[0]


def resolve(handles: Iterable[str], candidates: Iterable[Candidate]) -> list[uuid.UUID]:
    """The users the handles name, in order of first mention, each once.

    `UnprocessableError` naming the handle when it matches several users,
    names a deactivated user or one who cannot see the ticket; and when a
    note names more than `MAX_MENTIONED_USERS` users.
    """
    pool = list(candidates)
    found: dict[uuid.UUID, None] = {}
    for handle in handles:
        matches = [c for c in pool if named_by(handle, c.email)]
        if not matches:
            continue
        if len(matches) > 1:
            raise UnprocessableError(
                f"@{handle} matches {len(matches)} users: write the full address, "
                f"e.g. @{matches[0].email}"
            )
        [user] = matches
        if not user.is_active:
            raise UnprocessableError(f"@{handle} is deactivated and cannot be mentioned")
        if not user.can_see_ticket:
            raise UnprocessableError(
                f"@{handle} cannot see this ticket: mention someone who has access to its mailbox"
            )
        found.setdefault(user.user_id, None)
    if len(found) > MAX_MENTIONED_USERS:
        raise UnprocessableError(f"a note may mention at most {MAX_MENTIONED_USERS} users")
    return list(found)
