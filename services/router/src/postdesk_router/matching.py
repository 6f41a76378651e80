"""Which ticket a message continues, and whether its sender may join it.

The order of the rules is the domain module's (see its docstring): stored
Message-IDs, ticket tokens, the subject tag, then sender and subject.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from postdesk_contracts import MailParsed
from postdesk_contracts.events import MailKind
from postdesk_contracts.subjects import normalize_subject
from postdesk_runtime import ThreadTokens
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_router import db, merge_db
from postdesk_router.db import AccountRef
from postdesk_router.domain import (
    CLOSED_STATUSES,
    ClosedTicketAction,
    MatchRule,
    ThreadKey,
    choose_thread,
    linked_rule,
    may_join,
    ticket_tag_number,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Match:
    ticket_id: uuid.UUID | None
    rule: str  # messages.match_rule: found_by, or "linked:..." when the sender may not join
    joins: bool
    status: str = ""
    found_by: MatchRule = MatchRule.NEW_TICKET


async def keys_of_our_bounces(
    session: AsyncSession, tenant_id: uuid.UUID, mail: MailParsed, keys: list[ThreadKey]
) -> tuple[list[ThreadKey], set[str]]:
    """Keep the bounced-message key only when it names a message we sent; and the Message-IDs
    of ours a bounce reports on (none for other mail)."""
    if mail.bounce is None:
        return keys, set()
    named = [k.message_id for k in keys]
    ours = await db.outbound_message_ids(session, tenant_id, named)
    kept = [k for k in keys if k.rule != MatchRule.BOUNCED_MESSAGE or k.message_id in ours]
    return kept, ours


async def find_thread(
    session: AsyncSession,
    account: AccountRef,
    mail: MailParsed,
    keys: list[ThreadKey],
    tokens: ThreadTokens,
) -> tuple[uuid.UUID, MatchRule] | None:
    """The ticket the message continues and the rule that found it, by the order of the
    domain module's docstring; None for a new conversation."""
    tenant_id = account.tenant_id
    stored = await db.tickets_of_messages(session, tenant_id, [k.message_id for k in keys])
    thread = choose_thread(keys, stored)
    token = await token_ticket(session, tenant_id, mail, keys, tokens)
    if token is not None and (
        thread is None or await same_live_ticket(session, thread[0], token[0])
    ):
        return token
    if thread is not None:
        return thread
    tagged = await tagged_ticket(session, tenant_id, mail.ticket_tag)
    if tagged is not None:
        return tagged
    return await sender_subject_ticket(session, account, mail)


async def token_ticket(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    mail: MailParsed,
    keys: list[ThreadKey],
    tokens: ThreadTokens,
) -> tuple[uuid.UUID, MatchRule] | None:
    """The tenant's ticket a genuine reply-address token or signed Message-ID names."""
    found = tokens.first_ticket(mail.plus_tokens, [])
    rule = MatchRule.REPLY_TOKEN
    if found is None:
        found = tokens.first_ticket([], [k.message_id for k in keys])
        rule = MatchRule.SIGNED_MESSAGE_ID
    if found is None or await db.tenant_ticket(session, tenant_id, found) is None:
        return None  # a token of another tenant's ticket is ignored
    return found, rule


async def same_live_ticket(session: AsyncSession, first: uuid.UUID, second: uuid.UUID) -> bool:
    if first == second:
        return True
    return await merge_db.live_ticket(session, first) == await merge_db.live_ticket(session, second)


async def sender_subject_ticket(
    session: AsyncSession, account: AccountRef, mail: MailParsed
) -> tuple[uuid.UUID, MatchRule] | None:
    """With the account's subject_match_days set: the sender's latest ticket whose subject
    normalises to this message's, active within that many days."""
    if account.subject_match_days is None or mail.from_ is None or not mail.normalized_subject:
        return None
    since = mail.received_at - timedelta(days=account.subject_match_days)
    recent = await db.recent_tickets_of_sender(session, account.tenant_id, mail.from_.email, since)
    for ticket_id, subject in recent:
        if normalize_subject(subject) == mail.normalized_subject:
            return ticket_id, MatchRule.SENDER_SUBJECT
    return None


async def tagged_ticket(
    session: AsyncSession, tenant_id: uuid.UUID, tag: str | None
) -> tuple[uuid.UUID, MatchRule] | None:
    """The tenant's ticket the subject tag names, with the rule, or None."""
    number = ticket_tag_number(tag)
    ticket_id = None if number is None else await db.ticket_by_number(session, tenant_id, number)
    return None if ticket_id is None else (ticket_id, MatchRule.SUBJECT_TAG)


async def match_ticket(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    mail: MailParsed,
    thread: tuple[uuid.UUID, MatchRule] | None,
) -> Match:
    """The live ticket `thread` matched (locked; merges followed), whether the sender may join
    it, and the message's match rule ("linked:..." when it may not)."""
    if thread is None:
        return Match(None, MatchRule.NEW_TICKET, joins=False)
    ticket_id, rule = await merge_db.live_ticket(session, thread[0]), thread[1]
    status = (await db.ticket_state(session, ticket_id)).status
    sender = mail.from_.email if mail.from_ else None
    participants = await db.participants_among(session, tenant_id, ticket_id, [sender or ""])
    if may_join(sender, participants, rule):
        return Match(ticket_id, rule, joins=True, status=status, found_by=rule)
    log.debug("sender may not join the matched ticket", match_rule=str(rule))
    return Match(ticket_id, linked_rule(rule), joins=False, status=status, found_by=rule)


def match_detail(mail: MailParsed, match: Match, action: ClosedTicketAction) -> str:
    """Why the message went where it went, for people reading the ticket's history."""
    kind = mail.classification.kind
    if match.ticket_id is None:
        return "no stored message, token, ticket tag or recent same-subject ticket matched"
    parts = [f"matched ticket {match.ticket_id} by {match.found_by}"]
    if not match.joins:
        parts.append("the sender is not a participant of it: opened a linked ticket")
    if action == ClosedTicketAction.FOLLOW_UP:
        parts.append(f"it was {match.status}: opened a linked follow-up (account policy)")
    elif match.status in CLOSED_STATUSES and kind != MailKind.HUMAN:
        parts.append(f"{kind} mail attached to the {match.status} ticket without reopening it")
    return "; ".join(parts)
