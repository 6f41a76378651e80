"""Who hears about an assignment, and what the notification says. No I/O.

Invariants:
- Mail imported from a mailbox backfill never notifies anyone.
- A notification goes only to an active user of the ticket's own tenant.
- The event's tenant, when given, must be the ticket's tenant; a mismatch
  is refused rather than notified across tenants.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from postdesk_contracts import TicketAssigned, TicketCreated, TicketMessageAdded

ASSIGNED_KIND = "ticket.assigned"
MAX_TITLE_CHARS = 255
NO_SUBJECT = "(no subject)"


@dataclass(frozen=True)
class TicketInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    number: int
    subject: str


@dataclass(frozen=True)
class UserInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    is_active: bool


@dataclass(frozen=True)
class NotificationDraft:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    ticket_id: uuid.UUID
    title: str


@dataclass(frozen=True)
class Skipped:
    reason: str


def skip_backfill(payload: TicketAssigned | TicketCreated | TicketMessageAdded) -> Skipped | None:
    """Why an event of imported mail notifies nobody; None for live mail."""
    return Skipped("imported from a mailbox backfill") if payload.imported else None


def skip_self_assignment(assigned: TicketAssigned) -> Skipped | None:
    """Why someone who assigned a ticket to themselves (e.g. by composing a new mail) is not
    told about it; None for every other assignment."""
    if assigned.assigned_by is not None and assigned.assigned_by == assigned.assignee_id:
        return Skipped("the assignee made the assignment")
    return None


def assignment_title(number: int, subject: str) -> str:
    """ "Ticket #<n> assigned to you: <subject>", cut to a displayable length."""
    title = f"Ticket #{number} assigned to you: {subject.strip() or NO_SUBJECT}"
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 3] + "..."


def plan_assignment_notification(
    event_tenant_id: uuid.UUID | None, ticket: TicketInfo, assignee: UserInfo | None
) -> NotificationDraft | Skipped:
    """The in-app notification an assignment deserves, or why there is none."""
    if event_tenant_id is not None and event_tenant_id != ticket.tenant_id:
        return Skipped("event tenant does not own the ticket")
    if assignee is None or assignee.tenant_id != ticket.tenant_id:
        return Skipped("assignee is not a user of the ticket's tenant")
    if not assignee.is_active:
        return Skipped("assignee is not active")
    return NotificationDraft(
        tenant_id=ticket.tenant_id,
        user_id=assignee.id,
        kind=ASSIGNED_KIND,
        ticket_id=ticket.id,
        title=assignment_title(ticket.number, ticket.subject),
    )
