"""The router's rules, free of I/O: which account a message is for, which
ticket it continues, and who is assigned a new ticket.

Invariants:
- Recipient candidates keep the order envelope recipients, Delivered-To and X-Original-To, To,
  Cc; each address appears once, lower-cased. The first candidate that names
  an active account wins: its own address, an active inbound address of the
  account, or either with plus-addressing removed (cs+x@d -> cs@d). Only
  when no candidate names one does the first candidate whose domain is an
  inbound domain with a catch-all account go to that account. (Ingest's
  recipient directory applies the same rules before it accepts a mail.)
- Threading keys are In-Reply-To first, then References newest first (the
  last reference is the direct parent); each key appears once. A bounce
  adds the Message-ID of the message it reports on, first.
- Then, in order, when nothing before matched: a ticket token (reply-token
  address, then a signed Message-ID among the keys), the ticket tag in the
  subject ("[#1234]"), and, when the account sets subject_match_days, the
  sender's latest ticket with the same normalised subject within that many
  days. A token naming the ticket the keys matched makes that match a token
  match.
- Who may add to a ticket: a matched message joins the ticket only when its
  sender (From) is a participant -- the ticket's customer, an address in
  From/To/Cc of a message on the ticket, or an active user of the tenant --
  or when the match came from a token only we could have issued (reply-token
  addresses, signed Message-IDs: TOKEN_RULES; a bare Message-ID is not such
  a token, anyone a mail was forwarded to has it). Otherwise the message
  opens a new ticket linked to the matched one, so a subject tag never lets
  a stranger in and a BCC'd reply never becomes part of (or the customer
  of) the ticket.
- Assignment (postdesk_router.assignment): an available primary wins, then
  the backups in priority order; viewers are never assigned; departments
  may choose round-robin, least-open or priority order instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from postdesk_contracts import Address, MailParsed
from postdesk_contracts.addressing import domain_of, without_plus

MAX_REJECT_REASON_CHARS = 1_000
NO_SUBJECT = "(no subject)"

A = TypeVar("A")
T = TypeVar("T")


class MatchRule(StrEnum):
    """Why a message joined its ticket (messages.match_rule)."""

    IN_REPLY_TO = "in-reply-to"
    REFERENCES = "references"
    BOUNCED_MESSAGE = "bounced-message"
    REPLY_TOKEN = "reply-token"  # noqa: S105  # a rule name, not a secret
    SIGNED_MESSAGE_ID = "signed-message-id"
    SUBJECT_TAG = "subject-tag"
    SENDER_SUBJECT = "sender-subject"
    NEW_TICKET = "new-ticket"


# Rules whose match proves the sender holds a token only we issued; they join without
# participation.
TOKEN_RULES: frozenset[MatchRule] = frozenset({MatchRule.REPLY_TOKEN, MatchRule.SIGNED_MESSAGE_ID})
CLOSED_STATUSES = frozenset({"resolved", "closed"})


class ClosedTicketAction(StrEnum):
    """What a message that matched a ticket does to its status."""

    NONE = "none"
    REOPEN = "reopen"
    FOLLOW_UP = "follow-up"
    CUSTOMER_REPLIED = "customer-replied"


def closed_ticket_action(
    status: str, mail_kind: str, reopen_policy: str, *, from_staff: bool
) -> ClosedTicketAction:
    """A human message to a resolved or closed ticket reopens it, or opens a linked follow-up
    when the account says so; a customer's message to a pending ticket makes it open again.
    Auto-replies, bounces, list mail and spam never change a status; neither does staff mail
    to a pending ticket (the ticket still waits on the customer)."""
    if mail_kind != "human":
        return ClosedTicketAction.NONE
    if status in CLOSED_STATUSES:
        if reopen_policy == "follow_up":
            return ClosedTicketAction.FOLLOW_UP
        return ClosedTicketAction.REOPEN
    if status == "pending" and not from_staff:
        return ClosedTicketAction.CUSTOMER_REPLIED
    return ClosedTicketAction.NONE


def follow_up_rule(rule: str) -> str:
    """messages.match_rule of a message that opened a follow-up of the closed ticket it matched."""
    return f"follow-up:{rule}"


MAX_TICKET_NUMBER = 2**63 - 1


class AssignmentRule(StrEnum):
    """Which assignment rule chose the assignee (tickets.assignment_rule)."""

    PRIMARY = "primary"
    BACKUP = "backup"
    PRIORITY = "priority"
    ROUND_ROBIN = "round-robin"
    LEAST_OPEN = "least-open"
    # nobody eligible was within working hours; the strategy then ignored hours
    PRIMARY_OUTSIDE_HOURS = "primary-outside-hours"
    BACKUP_OUTSIDE_HOURS = "backup-outside-hours"
    PRIORITY_OUTSIDE_HOURS = "priority-outside-hours"
    ROUND_ROBIN_OUTSIDE_HOURS = "round-robin-outside-hours"
    LEAST_OPEN_OUTSIDE_HOURS = "least-open-outside-hours"
    # the scanner moved a ticket left unanswered past the account's threshold
    UNANSWERED_REASSIGN = "unanswered-reassign"


@dataclass(frozen=True)
class ThreadKey:
    """A Message-ID the new message may reply to, and the rule that named it."""

    message_id: str
    rule: MatchRule


@dataclass(frozen=True)
class AssignmentCandidate:
    """One assignment of the account, with its user's state.

    `working_hours` and `timezone` are the user's (users.working_hours,
    users.timezone); empty hours mean always working.
    """

    user_id: uuid.UUID
    role: str
    priority: int
    assignment_active: bool
    user_active: bool
    name: str = ""
    timezone: str = "UTC"
    working_hours: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def eligible(self) -> bool:
        return self.assignment_active and self.user_active


@dataclass(frozen=True)
class AssigneeChoice:
    user_id: uuid.UUID
    rule: AssignmentRule
    reason: str


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return list(seen)


def recipient_candidates(mail: MailParsed) -> list[str]:
    """Addresses that may name the receiving account, most authoritative first."""
    addresses = [
        *mail.envelope_recipients,
        *mail.delivered_to,
        *(a.email for a in mail.to),
        *(a.email for a in mail.cc),
    ]
    return _unique(a.strip().lower() for a in addresses)


def account_lookup_keys(candidates: Sequence[str]) -> tuple[list[str], list[str]]:
    """Addresses (each candidate and its untagged base) and domains to look accounts up by."""
    addresses = _unique(k for c in candidates for k in (c, without_plus(c) or ""))
    return addresses, _unique(domain_of(c) for c in candidates)


def choose_account(
    candidates: Sequence[str],
    accounts: Mapping[str, A],
    catch_alls: Mapping[str, A] | None = None,
) -> A | None:
    """The account the candidates name, by the rules of the module docstring.

    `accounts` maps addresses (account or inbound addresses) to accounts;
    `catch_alls` maps inbound domains to their catch-all accounts.
    """
    for address in candidates:
        for key in (address, without_plus(address)):
            if key is not None and key in accounts:
                return accounts[key]
    for address in candidates:
        if catch_alls and (domain := domain_of(address)) in catch_alls:
            return catch_alls[domain]
    return None


def normalise_message_id(value: str) -> str:
    """A Message-ID as stored: no surrounding whitespace or angle brackets."""
    return value.strip().removeprefix("<").removesuffix(">").strip()


def threading_keys(
    in_reply_to: Sequence[str], references: Sequence[str], bounced: str | None = None
) -> list[ThreadKey]:
    """Keys to look up in order: the message a bounce reports on, In-Reply-To, then
    References from newest to oldest."""
    keys: dict[str, ThreadKey] = {}
    named = [(bounced, MatchRule.BOUNCED_MESSAGE)] if bounced else []
    named += [(v, MatchRule.IN_REPLY_TO) for v in in_reply_to]
    named += [(v, MatchRule.REFERENCES) for v in reversed(references)]
    for value, rule in named:
        message_id = normalise_message_id(value)
        if message_id and message_id not in keys:
            keys[message_id] = ThreadKey(message_id, rule)
    return list(keys.values())


def choose_thread(keys: Sequence[ThreadKey], known: Mapping[str, T]) -> tuple[T, MatchRule] | None:
    """The ticket of the first key whose message is known (Message-ID -> ticket), and the rule."""
    for key in keys:
        if key.message_id in known:
            return known[key.message_id], key.rule
    return None


def ticket_tag_number(tag: str | None) -> int | None:
    """The ticket number a subject tag names ("1234"), or None for a missing or unusable tag."""
    digits = (tag or "").strip()
    if not (digits.isascii() and digits.isdigit()):
        return None
    number = int(digits)
    return number if 0 < number <= MAX_TICKET_NUMBER else None


def may_join(sender: str | None, participants: Collection[str], rule: MatchRule) -> bool:
    """Whether a message from `sender` that matched a ticket by `rule` may join it.

    A bounce of a message we sent joins whoever reports it (the caller keeps
    the bounced-message key only for bounces of our own outbound messages).

    `participants` are the ticket's participant addresses (lower-cased); the
    caller may pass only those among the sender's addresses.
    """
    if rule in TOKEN_RULES or rule == MatchRule.BOUNCED_MESSAGE:
        return True
    address = (sender or "").strip().lower()
    return bool(address) and address in participants


def linked_rule(rule: MatchRule) -> str:
    """messages.match_rule of a message that matched a ticket it may not join."""
    return f"linked:{rule}:sender-not-participant"


def unknown_recipient_reason(candidates: Sequence[str]) -> str:
    """The recorded reason for a message no active account receives."""
    if not candidates:
        return "no recipient addresses in the message"
    listed = ", ".join(candidates)
    reason = f"no active email account for recipients: {listed}"
    if len(reason) > MAX_REJECT_REASON_CHARS:
        reason = reason[: MAX_REJECT_REASON_CHARS - 3] + "..."
    return reason


def customer_of(mail: MailParsed) -> Address | None:
    """The customer a new ticket belongs to: the sender, else the first Reply-To."""
    return mail.from_ or (mail.reply_to[0] if mail.reply_to else None)


def ticket_subject(subject: str) -> str:
    return pg_text(subject).strip() or NO_SUBJECT


def pg_text(value: str) -> str:
    """`value` without NUL characters, which PostgreSQL text and jsonb cannot hold."""
    return value.replace("\x00", "")


MAX_BOUNCE_REASON_CHARS = 500


def bounce_reason(status: str, diagnostic: str, recipients: Sequence[str]) -> str:
    """The failure recorded for a bounced message: status, recipients and the MTA's words."""
    parts = [f"bounced ({status})" if status else "bounced"]
    if recipients:
        parts.append("for " + ", ".join(recipients[:5]) + (" ..." if len(recipients) > 5 else ""))
    if diagnostic:
        parts.append(pg_text(diagnostic).strip())
    reason = ": ".join([parts[0], " ".join(parts[1:])]) if len(parts) > 1 else parts[0]
    return reason[:MAX_BOUNCE_REASON_CHARS]
