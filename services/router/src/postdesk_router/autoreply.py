"""Auto-replies: whether an account answers a mail automatically, and what it says. No I/O.

Mail loops must end, so an auto-reply passes every one of these stops, and
any single one of them ends a loop on its own:

1. The mail (`mail_reason`): never answer mail imported from a mailbox
   backfill, mail the parser judged anything but human (auto-reply, bounce,
   list or bulk, spam), mail with an Auto-Submitted other than "no", mail
   with a null Return-Path or a bounce report (RFC 3834, section 2), or mail
   with no sender.
2. The address answered (`address_reason`): never an address that is not a
   person's mailbox -- noreply-like, MAILER-DAEMON, postmaster, list
   owner/request/bounce addresses (RFC 3834 names "owner-" and "-request") --
   and never a postdesk address of any tenant, plus-tagged or not, nor the
   sender's when it is one (the caller checks the database: autoreply_db).
3. The account (`account_reason`): auto-reply enabled, a message set, and
   with schedule "outside_hours" only outside its working hours. An
   "outside_hours" account without working hours is always open, so it
   never auto-replies; unusable working hours count as always open too.
4. The window (`window_reason`): one auto-reply per address per account per
   `auto_reply_window_minutes` (0 turns the window off; the caps still apply).
5. Hard caps (`DEFAULT_CAPS`, `exceeded_cap`) on the log of automatic mail,
   whatever any header says, over sliding windows:
   - per ticket: 10 in 10 minutes and 100 in 10 hours (Zammad's defaults);
   - per address per tenant, across all its accounts: 20 in an hour (the
     per-account window cannot see the tenant's other accounts);
   - per tenant: 1000 in an hour, a ceiling no genuine helpdesk reaches by
     acknowledging customers, which bounds what a flood can make us send.
   A cap is reached when that many automatic mails are already logged in
   the span: the next one is suppressed.

What we send says `Auto-Submitted: auto-replied`, so RFC 3834 responders,
postdesk included, do not answer it.

Whom we answer: RFC 3834 prefers the envelope sender (Return-Path), which
MailParsed does not carry. We answer the first Reply-To, else From: the
address the person asked answers to (a web form's noreply From with the
customer in Reply-To reaches the customer). Every stop above applies to
that address, and the own-address stop to From as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from postdesk_contracts import Address, MailParsed
from postdesk_contracts.events import MailKind
from postdesk_contracts.schedule import Schedule, ScheduleError
from postdesk_contracts.subjects import find_ticket_tag, format_ticket_tag

KIND = "auto_reply"
AUTO_SUBMITTED = "auto-replied"
IMPORTED_SOURCE = "imap-backfill"
NULL_RETURN_PATH = "null return-path"
SIGNATURE_SEPARATOR = "\n\n-- \n"
MAX_TEXT_CHARS = 200_000  # OutboundRequested.text's limit
# RFC 5322 lets References grow with every reply; a loop must not grow it without bound.
MAX_REFERENCES = 20

log = structlog.get_logger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_WHITESPACE = re.compile(r"\s+")
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)
# Local parts (plus tag removed) that no person reads, or that belong to list software.
_NOT_A_PERSON = re.compile(
    r"^(?:no[-_.]?reply.*|do[-_.]?not[-_.]?reply.*|mailer[-_.]?daemon|mail[-_.]?daemon"
    r"|postmaster|bounces?|listserv|majordomo|owner-.+|.+-(?:request|bounces?|owner))$"
)


class CapScope(StrEnum):
    TICKET = "ticket"
    RECIPIENT = "recipient"
    TENANT = "tenant"


@dataclass(frozen=True)
class Cap:
    """At most `limit` automatic mails per `scope` in any `span`."""

    scope: CapScope
    limit: int
    span: timedelta

    def describe(self) -> str:
        per = "address" if self.scope is CapScope.RECIPIENT else str(self.scope)
        return f"{self.limit} automatic mails per {per} in {_duration(self.span)}"


TICKET_CAPS = (
    Cap(CapScope.TICKET, 10, timedelta(minutes=10)),
    Cap(CapScope.TICKET, 100, timedelta(hours=10)),
)
RECIPIENT_CAP = Cap(CapScope.RECIPIENT, 20, timedelta(hours=1))
TENANT_CAP = Cap(CapScope.TENANT, 1000, timedelta(hours=1))
DEFAULT_CAPS: tuple[Cap, ...] = (*TICKET_CAPS, RECIPIENT_CAP, TENANT_CAP)


class ReplySchedule(StrEnum):
    """Values of email_accounts.auto_reply_schedule."""

    ALWAYS = "always"
    OUTSIDE_HOURS = "outside_hours"


@dataclass(frozen=True)
class AutoReplySettings:
    """An account's auto-reply settings (email_accounts)."""

    enabled: bool
    message: str
    subject: str
    schedule: str
    window_minutes: int
    timezone: str
    working_hours: Mapping[str, Any]
    signature: str
    display_name: str
    address: str


def mail_reason(mail: MailParsed) -> str | None:
    """Why the mail itself must get no automatic answer, or None."""
    if mail.source == IMPORTED_SOURCE:
        return "imported from a mailbox backfill"
    classification = mail.classification
    if classification.kind is not MailKind.HUMAN:
        why = "; ".join(classification.reasons)
        return f"mail is {classification.kind.value}" + (f" ({why})" if why else "")
    submitted = (classification.auto_submitted or "").strip().lower()
    if submitted and submitted.split(";")[0].strip() != "no":
        return f"mail is automatic (auto-submitted: {submitted})"
    if NULL_RETURN_PATH in classification.reasons:
        return "null return-path (RFC 3834: never answer it)"
    if mail.bounce is not None:
        return "mail is a delivery status report"
    if mail.from_ is None or not mail.from_.email.strip():
        return "mail has no sender"
    return None


def suppression_reason(mail: MailParsed, settings: AutoReplySettings, now: datetime) -> str | None:
    """The first of stops 1 to 3 that suppresses an auto-reply to `mail`, or None (the own
    addresses, the window and the caps need the database)."""
    recipient = reply_recipient(mail)
    return (
        mail_reason(mail)
        or (address_reason(recipient.email) if recipient else "no address to answer")
        or account_reason(settings, now)
    )


def reply_recipient(mail: MailParsed) -> Address | None:
    """Whom an auto-reply goes to: the first Reply-To, else From (see the module docstring)."""
    chosen = mail.reply_to[0] if mail.reply_to else mail.from_
    if chosen is None:
        return None
    return Address(name=one_line(chosen.name), email=chosen.email.strip().lower())


def address_reason(address: str) -> str | None:
    """Why `address` must not be answered automatically (no person's mailbox), or None."""
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or _CONTROL.search(address) or " " in address:
        return f"{address!r} is not a usable address"
    if _NOT_A_PERSON.match(local.partition("+")[0]):
        return f"{address} is not a person's mailbox"
    return None


def account_reason(settings: AutoReplySettings, now: datetime) -> str | None:
    """Why the account does not auto-reply now, or None."""
    if not settings.enabled:
        return "auto-reply disabled"
    if not settings.message.strip():
        return "no auto-reply message set"
    if settings.schedule == ReplySchedule.ALWAYS:
        return None
    if settings.schedule != ReplySchedule.OUTSIDE_HOURS:
        return f"unknown auto-reply schedule {settings.schedule!r}"
    try:
        hours = Schedule.parse(settings.working_hours, settings.timezone)
    except ScheduleError as error:
        log.warning(
            "unusable working hours on an account", account=settings.address, error=str(error)
        )
        return f"unusable working hours ({error}) count as always open"
    if hours.is_open(now):
        return "within the account's working hours"
    return None


def window_reason(earlier: int, window_minutes: int, recipient: str) -> str | None:
    """Why the per-address window suppresses this auto-reply, given how many the account
    sent `recipient` within the window, or None."""
    if window_minutes > 0 and earlier > 0:
        return f"already auto-replied to {recipient} within {window_minutes} minutes"
    return None


def exceeded_cap(counts: Iterable[tuple[Cap, int]]) -> Cap | None:
    """The first cap whose span already holds `limit` automatic mails, or None."""
    return next((cap for cap, count in counts if count >= cap.limit), None)


def cap_reason(cap: Cap) -> str:
    return f"cap reached: {cap.describe()}"


def reply_subject(custom: str, ticket_subject: str, ticket_number: int) -> str:
    """The account's subject, else "Re: <ticket subject>", ending in the ticket's tag so an
    answer threads (the last tag wins: a peer helpdesk's tag may come before ours)."""
    subject = one_line(custom)
    if not subject:
        base = one_line(ticket_subject)
        subject = base if _REPLY_PREFIX.match(base) else f"Re: {base}".rstrip()
    if find_ticket_tag(subject) != str(ticket_number):
        subject = f"{subject} {format_ticket_tag(ticket_number)}"
    return subject


def reply_text(message: str, signature: str) -> str:
    """The message, then the signature after the usenet separator "-- " when there is one."""
    body = message.rstrip()
    return body + SIGNATURE_SEPARATOR + signature.strip() if signature.strip() else body


def reply_references(references: Sequence[str], message_id: str) -> list[str]:
    """References of an answer to `message_id`: the thread's root, then the latest ids."""
    chain = list(dict.fromkeys([*references, message_id]))
    if len(chain) <= MAX_REFERENCES:
        return chain
    return [chain[0], *chain[-(MAX_REFERENCES - 1) :]]


def one_line(value: str) -> str:
    """`value` as one header-safe line: control characters and whitespace runs become a space."""
    return _WHITESPACE.sub(" ", _CONTROL.sub(" ", value)).strip()


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "1 hour" if hours == 1 else f"{hours} hours"
