"""Who hears about what. No I/O: the callers load people and assignments.

New mail on a ticket (`mail_recipients`):
- the ticket's assignee if it has one, else the account's primary handlers
  (usable assignments that may receive);
- a recipient who is unavailable (inactive, or outside their working hours)
  gives way to the account's available backups, by priority; if no backup
  is available, to every usable backup. Backups step in only when none of
  the chosen recipients is available: one primary at work covers the mail.
  If there is no backup at all, the active recipients stay (out of hours,
  they still find it when they are back);
- the assignment's notify_on_receive (a new ticket) or notify_on_reply (a
  reply) must be on; someone without an assignment on the account (an admin
  assignee) has no such switch and is notified;
- never the staff member who sent the mail;
- a new ticket's assignee is told by its ticket.assigned ("assigned to you",
  with the rule), not a second time as new mail: new_ticket reaches the
  primaries of an unassigned ticket, or the backups standing in for an
  assignee who is away.

A mention (`mention_recipients`) reaches a mentioned active user of the
tenant who can see the ticket (tenant admin, or a usable assignment on its
account) and whose assignment has notify_on_mention (admins without one: on);
never the author. SLA warnings and breaches (`sla_recipients`) reach the
assignee, the department's managers and the account's primaries, each once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import structlog
from postdesk_contracts.schedule import Schedule

from postdesk_notifier.domain import Handler, Person

PRIMARY = "primary"
BACKUP = "backup"

log = structlog.get_logger(__name__)


def is_available(person: Person, at: datetime) -> bool:
    """Active and inside their working hours at `at` (unusable hours count as always open)."""
    if not person.is_active:
        return False
    try:
        schedule = Schedule.parse(dict(person.working_hours), person.timezone)
    except (TypeError, ValueError) as error:  # ScheduleError is a ValueError
        log.warning(
            "unusable working hours; treating the user as available",
            user_id=str(person.id),
            error=str(error),
        )
        return True
    return schedule.is_open(at)


def primaries(handlers: Iterable[Handler]) -> list[Person]:
    """The account's usable primary handlers that may receive its mail."""
    return [h.person for h in handlers if h.role == PRIMARY and h.usable and h.can_receive]


def backups_for(handlers: Iterable[Handler], at: datetime) -> list[Person]:
    """The available usable backups by priority; all usable backups when none is available."""
    usable = sorted(
        (h for h in handlers if h.role == BACKUP and h.usable and h.can_receive),
        key=lambda h: h.priority,
    )
    available = [h.person for h in usable if is_available(h.person, at)]
    return available or [h.person for h in usable]


def mail_recipients(
    *,
    assignee: Person | None,
    handlers: Sequence[Handler],
    at: datetime,
    opened_ticket: bool,
    sender_ids: frozenset[uuid.UUID],
) -> list[Person]:
    """Who is told about a customer's new mail on a ticket (see the module docstring)."""
    chosen = [assignee] if assignee is not None else primaries(handlers)
    available = [p for p in chosen if is_available(p, at)]
    if not available:
        available = backups_for(handlers, at) or [p for p in chosen if p.is_active]
    switches = {h.person.id: h for h in handlers if h.is_active}
    wanted = []
    for person in _once(available):
        handler = switches.get(person.id)
        if handler is not None and not (
            handler.notify_on_receive if opened_ticket else handler.notify_on_reply
        ):
            continue
        if person.id in sender_ids:
            continue
        if opened_ticket and assignee is not None and person.id == assignee.id:
            continue
        wanted.append(person)
    return wanted


def mention_recipients(
    *,
    mentioned: Iterable[uuid.UUID],
    author_id: uuid.UUID,
    people: Mapping[uuid.UUID, Person],
    handlers: Sequence[Handler],
) -> list[Person]:
    """The mentioned users who may see the ticket and want mentions, author excluded."""
    usable = {h.person.id: h for h in handlers if h.usable}
    wanted = []
    for user_id in dict.fromkeys(mentioned):
        person = people.get(user_id)
        if person is None or user_id == author_id or not person.is_active:
            continue
        handler = usable.get(user_id)
        if handler is None and not person.is_admin:
            continue  # cannot see the ticket
        if handler is None or handler.notify_on_mention:
            wanted.append(person)
    return wanted


def sla_recipients(
    *, assignee: Person | None, managers: Iterable[Person], handlers: Iterable[Handler]
) -> list[Person]:
    """The assignee, the department's managers and the account's primaries, active, once."""
    everyone = [*([assignee] if assignee else []), *managers, *primaries(handlers)]
    return [p for p in _once(everyone) if p.is_active]


def _once(people: Iterable[Person]) -> list[Person]:
    return list({p.id: p for p in people}.values())
