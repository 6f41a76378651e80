"""How each kind of notification is worded; `count` is the number of events folded into it.

Every function returns a clipped one-line title (see `domain.clip`). Due times are shown
in the recipient's own timezone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from postdesk_contracts import SlaTarget

from postdesk_notifier.domain import TicketInfo, clip, subject_of

TARGET_NAMES = {SlaTarget.FIRST_RESPONSE: "first response", SlaTarget.RESOLUTION: "resolution"}


def new_ticket(ticket: TicketInfo, sender: str, count: int) -> str:
    if count > 1:
        return clip(f"New ticket #{ticket.number} ({count} messages): {subject_of(ticket)}")
    return clip(f"New ticket #{ticket.number} from {sender}: {subject_of(ticket)}")


def customer_reply(ticket: TicketInfo, sender: str, count: int) -> str:
    if count > 1:
        return clip(f"{count} new replies on #{ticket.number}: {subject_of(ticket)}")
    return clip(f"New reply on #{ticket.number} from {sender}: {subject_of(ticket)}")


def mention(ticket: TicketInfo, author: str, count: int) -> str:
    times = f" ({count} notes)" if count > 1 else ""
    return clip(f"{author} mentioned you on #{ticket.number}{times}: {subject_of(ticket)}")


def assigned(ticket: TicketInfo, assigner: str | None, rule: str) -> str:
    """Names who assigned it, or the rule when no person did."""
    by = f"by {assigner}" if assigner else f"by rule {rule or 'unknown'}"
    return clip(f"Ticket #{ticket.number} assigned to you {by}: {subject_of(ticket)}")


def sla(
    ticket: TicketInfo, target: SlaTarget, due_at: datetime, timezone: str, *, breached: bool
) -> str:
    due = local_time(due_at, timezone)
    name = TARGET_NAMES.get(target, str(target))
    if breached:
        return clip(f"SLA breached on #{ticket.number}: {name} was due {due}: {subject_of(ticket)}")
    return clip(f"SLA warning on #{ticket.number}: {name} due {due}: {subject_of(ticket)}")


def local_time(moment: datetime, timezone: str) -> str:
    """`moment` as "YYYY-MM-DD HH:MM <zone>" in `timezone` (UTC when it is unknown)."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
