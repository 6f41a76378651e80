"""What a notification says and who it is for, as values. No I/O.

Invariants:
- Mail imported from a mailbox backfill never notifies anyone.
- A notification goes only to an active user of the ticket's own tenant; an
  event whose tenant is not the ticket's is refused rather than notified
  across tenants.
- A user who wants a kind on neither channel (`notify_prefs.wants`) gets no
  notification of it; the channels are fixed when a notification is created.
- Titles and bodies hold no control characters (they become mail headers)
  and are cut to a displayable length.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from postdesk_contracts import TicketAssigned, TicketCreated, TicketMessageAdded
from postdesk_contracts.notify_prefs import NotificationChannel, NotificationKind, wants

MAX_TITLE_CHARS = 255
MAX_BODY_CHARS = 1_000
NO_SUBJECT = "(no subject)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]+")  # keeps tab and line feed


@dataclass(frozen=True)
class TicketInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    number: int
    subject: str
    account_id: uuid.UUID
    department_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Person:
    """A user as the notifier needs them: who, where they read mail, when they work."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    full_name: str = ""
    email: str = ""
    company_email: str | None = None
    is_admin: bool = False
    is_active: bool = True
    timezone: str = "UTC"
    working_hours: Mapping[str, Any] = field(default_factory=dict)
    preferences: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.full_name.strip() or self.email or str(self.id)


@dataclass(frozen=True)
class Handler:
    """A user's assignment on an email account, with that user."""

    person: Person
    role: str
    priority: int = 0
    can_receive: bool = True
    is_active: bool = True
    notify_on_receive: bool = True
    notify_on_reply: bool = True
    notify_on_mention: bool = True

    @property
    def usable(self) -> bool:
        """An active assignment of an active user."""
        return self.is_active and self.person.is_active


@dataclass(frozen=True)
class Channels:
    in_app: bool
    email: bool


@dataclass(frozen=True)
class NotificationDraft:
    """One notification for one user; `title_for(count)` words it for `count` folded events."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    kind: NotificationKind
    ticket_id: uuid.UUID
    title_for: Callable[[int], str]
    channels: Channels
    body: str = ""
    actor_id: uuid.UUID | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def group_key(self) -> str:
        return f"{self.kind.value}:{self.ticket_id}"

    @property
    def title(self) -> str:
        return self.title_for(1)


@dataclass(frozen=True)
class Skipped:
    reason: str


def channels_for(person: Person, kind: NotificationKind) -> Channels | None:
    """Where `person` wants `kind`; None when on no channel at all."""
    chosen = Channels(
        in_app=wants(person.preferences, kind, NotificationChannel.IN_APP),
        email=wants(person.preferences, kind, NotificationChannel.EMAIL),
    )
    return chosen if chosen.in_app or chosen.email else None


def draft_for(
    person: Person,
    ticket: TicketInfo,
    kind: NotificationKind,
    title_for: Callable[[int], str],
    *,
    body: str = "",
    actor_id: uuid.UUID | None = None,
    data: Mapping[str, Any] | None = None,
) -> NotificationDraft | None:
    """The draft for `person`, or None when they want `kind` on no channel."""
    channels = channels_for(person, kind)
    if channels is None:
        return None
    return NotificationDraft(
        tenant_id=ticket.tenant_id,
        user_id=person.id,
        kind=kind,
        ticket_id=ticket.id,
        title_for=title_for,
        channels=channels,
        body=clip_body(body),
        actor_id=actor_id,
        data={"ticket_number": ticket.number, **(data or {})},
    )


def skip_backfill(payload: TicketAssigned | TicketCreated | TicketMessageAdded) -> Skipped | None:
    """Why an event of imported mail notifies nobody; None for live mail."""
    return Skipped("imported from a mailbox backfill") if payload.imported else None


def skip_not_customer_mail(added: TicketMessageAdded) -> Skipped | None:
    """Why a message notifies nobody: our own outbound mail, or mail no person wrote
    (auto-replies, bounces, lists, spam)."""
    if added.direction != "inbound":
        return Skipped(f"{added.direction} mail")
    if added.mail_kind != "human":
        return Skipped(f"{added.mail_kind} mail")
    return None


def skip_self_assignment(assigned: TicketAssigned) -> Skipped | None:
    """Why someone who assigned a ticket to themselves (e.g. by composing a new mail) is not
    told about it; None for every other assignment."""
    if assigned.assigned_by is not None and assigned.assigned_by == assigned.assignee_id:
        return Skipped("the assignee made the assignment")
    return None


def skip_foreign_tenant(event_tenant_id: uuid.UUID | None, ticket: TicketInfo) -> Skipped | None:
    """Why an event that names another tenant's ticket notifies nobody."""
    if event_tenant_id is not None and event_tenant_id != ticket.tenant_id:
        return Skipped("event tenant does not own the ticket")
    return None


def clip(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """`text` on one line without control characters, cut to `limit` with an ellipsis."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def clip_body(text: str, limit: int = MAX_BODY_CHARS) -> str:
    """`text` without control characters but line breaks and tabs, cut to `limit`."""
    clean = _BODY_CONTROL.sub(" ", text).strip()
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def subject_of(ticket: TicketInfo) -> str:
    return ticket.subject.strip() or NO_SUBJECT
