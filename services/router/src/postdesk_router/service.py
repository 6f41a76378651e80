"""Routing one parsed email: account, dedupe, threading, ticket, assignment, events.

`route_message` does all of it inside the caller's transaction, so the
claim of the event, the rows and the outbox events commit together or not
at all. `route_in_transaction` owns that transaction and retries it when a
concurrent writer won a unique constraint (the retry then sees the winner's
rows and records a duplicate).

Emitted event ids derive from the mail.parsed id, so a redelivered event
could never emit different ids even if its claim were lost.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog
from postdesk_contracts import (
    Address,
    Envelope,
    EventType,
    MailParsed,
    MailRejected,
    TicketAssigned,
    TicketCreated,
    TicketMessageAdded,
    new_envelope,
)
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import BlobStore, Sessions, claim_event, outbox_row
from postdesk_schema import Attachment, Message, Ticket
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_router import db, merge_db
from postdesk_router.db import AccountRef
from postdesk_router.domain import (
    AssigneeChoice,
    MatchRule,
    account_lookup_keys,
    choose_account,
    choose_assignee,
    choose_thread,
    customer_of,
    linked_rule,
    may_join,
    pg_text,
    recipient_candidates,
    threading_keys,
    ticket_subject,
    ticket_tag_number,
    unknown_recipient_reason,
)
from postdesk_router.merge import absorb_early_replies

SERVICE = "router"
UNIQUE_VIOLATION = "23505"
DEADLOCK_DETECTED = "40P01"
RETRIED_SQLSTATES = frozenset({UNIQUE_VIOLATION, DEADLOCK_DETECTED})

log = structlog.get_logger(__name__)


class RouteStatus(StrEnum):
    ROUTED = "routed"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    ALREADY_PROCESSED = "already-processed"


@dataclass(frozen=True)
class RouteOutcome:
    status: RouteStatus
    ticket_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None
    emitted: int = 0
    merged: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class _Match:
    ticket_id: uuid.UUID | None
    rule: str
    joins: bool


@dataclass(frozen=True)
class _Body:
    text: str
    html: str | None


async def route_in_transaction(
    sessions: Sessions, blobs: BlobStore, event: Envelope[MailParsed], *, attempts: int = 3
) -> RouteOutcome:
    """Route `event` in a transaction of its own, retrying on a lost unique-constraint race
    or a deadlock (ticket merges lock rows that concurrent joins lock too)."""
    for attempt in range(1, attempts + 1):
        try:
            async with sessions() as session, session.begin():
                return await route_message(session, blobs, event)
        except DBAPIError as error:
            if (
                attempt == attempts
                or getattr(error.orig, "sqlstate", None) not in RETRIED_SQLSTATES
            ):
                raise
            log.info("routing raced a concurrent writer; retrying", attempt=attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


async def route_message(
    session: AsyncSession, blobs: BlobStore, event: Envelope[MailParsed]
) -> RouteOutcome:
    """Route one mail.parsed event inside the caller's transaction."""
    if not await claim_event(session, SERVICE, event.id):
        return RouteOutcome(RouteStatus.ALREADY_PROCESSED)
    mail = event.payload
    candidates = recipient_candidates(mail)
    addresses, domains = account_lookup_keys(candidates)
    by_address = await db.inbound_address_accounts(session, addresses)
    by_address.update(await db.active_accounts(session, addresses))  # accounts' own addresses first
    account = choose_account(candidates, by_address, await db.catch_all_accounts(session, domains))
    if account is None:
        return await _reject(session, event, unknown_recipient_reason(candidates))

    keys = threading_keys(mail.in_reply_to, mail.references)
    await db.lock_message_ids(
        session, account.tenant_id, [mail.message_id, *(k.message_id for k in keys)]
    )
    existing = await db.find_message(session, account.tenant_id, mail.message_id)
    if existing is not None:
        await db.record_processing(
            session,
            **_log_fields(event),
            status=RouteStatus.DUPLICATE,
            tenant_id=account.tenant_id,
            detail=f"message already stored as {existing.id} on ticket {existing.ticket_id}",
        )
        log.debug("duplicate message", message_id=str(existing.id))
        return RouteOutcome(RouteStatus.DUPLICATE, existing.ticket_id, existing.id)

    body = await _load_body(blobs, mail.body_blob_ref)
    thread = choose_thread(
        keys, await db.tickets_of_messages(session, account.tenant_id, [k.message_id for k in keys])
    )
    if thread is None:
        thread = await _tagged_ticket(session, account.tenant_id, mail.ticket_tag)
    message_id = uuid.uuid4()
    events: list[Envelope[Any]] = []
    choice: AssigneeChoice | None = None
    match = await _match(session, account.tenant_id, mail, thread)
    rule = match.rule
    if match.ticket_id is None or not match.joins:
        # no match, or a sender who may not join the match: a new ticket, linked to it if any
        ticket_id = uuid.uuid4()
        number = await db.next_ticket_number(session, account.tenant_id)
        choice = choose_assignee(await db.assignment_candidates(session, account.id))
        session.add(
            _new_ticket(ticket_id, number, account, mail, choice, linked_to=match.ticket_id)
        )
        await session.flush()
        events.append(_ticket_created(event, account, ticket_id, number, message_id))
    else:
        ticket_id = match.ticket_id
        number = await db.add_message_to_ticket(session, ticket_id, mail.received_at)

    session.add(_message(message_id, ticket_id, account, mail, body, rule))
    await session.flush()
    session.add_all(_attachments(message_id, account.tenant_id, mail))
    merged = await absorb_early_replies(session, account.tenant_id, mail.message_id, ticket_id)
    added = _message_added(event, account, ticket_id, message_id, rule)
    events.append(added)
    if choice is not None:
        events.append(_ticket_assigned(event, account, ticket_id, choice))
    session.add_all([outbox_row(SERVICE, e) for e in events])
    await session.flush()
    await db.record_processing(
        session,
        **_log_fields(event),
        status=RouteStatus.ROUTED,
        tenant_id=account.tenant_id,
        event_id=added.id,
        detail=f"ticket #{number} ({rule})" + _merged_detail(merged),
    )
    log.debug("message routed", ticket_number=number, match_rule=str(rule), events=len(events))
    return RouteOutcome(
        RouteStatus.ROUTED,
        ticket_id,
        message_id,
        emitted=len(events),
        merged=tuple(t.id for t in merged),
    )


async def _tagged_ticket(
    session: AsyncSession, tenant_id: uuid.UUID, tag: str | None
) -> tuple[uuid.UUID, MatchRule] | None:
    """The tenant's ticket the subject tag names, with the rule, or None."""
    number = ticket_tag_number(tag)
    ticket_id = None if number is None else await db.ticket_by_number(session, tenant_id, number)
    return None if ticket_id is None else (ticket_id, MatchRule.SUBJECT_TAG)


async def _match(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    mail: MailParsed,
    thread: tuple[uuid.UUID, MatchRule] | None,
) -> _Match:
    """The live ticket `thread` matched (locked; merges followed), whether the sender may join
    it, and the message's match rule ("linked:..." when it may not)."""
    if thread is None:
        return _Match(None, MatchRule.NEW_TICKET, joins=False)
    ticket_id, rule = await merge_db.live_ticket(session, thread[0]), thread[1]
    sender = mail.from_.email if mail.from_ else None
    participants = await db.participants_among(session, tenant_id, ticket_id, [sender or ""])
    if may_join(sender, participants, rule):
        return _Match(ticket_id, rule, joins=True)
    log.debug("sender may not join the matched ticket", match_rule=str(rule))
    return _Match(ticket_id, linked_rule(rule), joins=False)


def _merged_detail(merged: list[merge_db.TicketRef]) -> str:
    if not merged:
        return ""
    return "; merged early replies' tickets " + ", ".join(f"#{t.number}" for t in merged)


async def _reject(session: AsyncSession, event: Envelope[MailParsed], reason: str) -> RouteOutcome:
    mail = event.payload
    rejected = new_envelope(
        EventType.MAIL_REJECTED,
        MailRejected(
            raw_blob_ref=mail.raw_blob_ref,
            sha256=mail.sha256,
            stage=SERVICE,
            reason=reason,
            message_id=mail.message_id,
        ),
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.MAIL_REJECTED.value),
    )
    session.add(outbox_row(SERVICE, rejected))
    await session.flush()
    await db.record_processing(
        session,
        **_log_fields(event),
        status=RouteStatus.REJECTED,
        event_id=rejected.id,
        detail=reason,
    )
    log.info("message rejected", reason=reason)
    return RouteOutcome(RouteStatus.REJECTED, emitted=1)


def _log_fields(event: Envelope[MailParsed]) -> dict[str, Any]:
    return {
        "dedupe_key": str(event.id),
        "sha256": event.payload.sha256,
        "raw_blob_ref": event.payload.raw_blob_ref,
        "message_id_header": event.payload.message_id,
    }


async def _load_body(blobs: BlobStore, ref: str) -> _Body:
    """The parser's body document {"text": ..., "html": ...}."""
    document = json.loads(await blobs.get(ref))
    text, html = document.get("text"), document.get("html")
    return _Body(
        text=pg_text(text) if isinstance(text, str) else "",
        html=pg_text(html) if isinstance(html, str) else None,
    )


def _new_ticket(
    ticket_id: uuid.UUID,
    number: int,
    account: AccountRef,
    mail: MailParsed,
    choice: AssigneeChoice | None,
    *,
    linked_to: uuid.UUID | None = None,
) -> Ticket:
    sender = customer_of(mail)
    return Ticket(
        id=ticket_id,
        tenant_id=account.tenant_id,
        number=number,
        account_id=account.id,
        department_id=account.department_id,
        subject=ticket_subject(mail.subject),
        customer_email=sender.email if sender else "",
        customer_name=pg_text(sender.name) if sender else "",
        assignee_id=choice.user_id if choice else None,
        assignment_rule=str(choice.rule) if choice else "",
        linked_ticket_id=linked_to,
        message_count=1,
        last_message_at=mail.received_at,
        updated_at=datetime.now(UTC),
    )


def _message(
    message_id: uuid.UUID,
    ticket_id: uuid.UUID,
    account: AccountRef,
    mail: MailParsed,
    body: _Body,
    rule: str,
) -> Message:
    return Message(
        id=message_id,
        tenant_id=account.tenant_id,
        ticket_id=ticket_id,
        account_id=account.id,
        direction="inbound",
        message_id_header=mail.message_id,
        in_reply_to=list(mail.in_reply_to),
        references=list(mail.references),
        subject=pg_text(mail.subject),
        from_email=mail.from_.email if mail.from_ else "",
        from_name=pg_text(mail.from_.name) if mail.from_ else "",
        to=_addresses(mail.to),
        cc=_addresses(mail.cc),
        text_body=body.text,
        html_body=body.html,
        text_preview=pg_text(mail.text_preview),
        raw_blob_ref=mail.raw_blob_ref,
        sha256=mail.sha256,
        classification=mail.classification.model_dump(mode="json"),
        match_rule=str(rule),
        sent_at=mail.date,
        received_at=mail.received_at,
    )


def _addresses(addresses: list[Address]) -> list[dict[str, Any]]:
    return [{"name": pg_text(a.name), "email": pg_text(a.email)} for a in addresses]


def _attachments(message_id: uuid.UUID, tenant_id: uuid.UUID, mail: MailParsed) -> list[Attachment]:
    return [
        Attachment(
            tenant_id=tenant_id,
            message_id=message_id,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            blob_ref=a.blob_ref,
            content_id=a.content_id,
            inline=a.inline,
        )
        for a in mail.attachments
    ]


def _ticket_created(
    event: Envelope[MailParsed],
    account: AccountRef,
    ticket_id: uuid.UUID,
    number: int,
    message_id: uuid.UUID,
) -> Envelope[TicketCreated]:
    mail = event.payload
    customer = customer_of(mail)
    return new_envelope(
        EventType.TICKET_CREATED,
        TicketCreated(
            ticket_id=ticket_id,
            number=number,
            account_id=account.id,
            department_id=account.department_id,
            subject=ticket_subject(mail.subject),
            customer_email=customer.email if customer else "",
            first_message_id=message_id,
        ),
        tenant_id=account.tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.TICKET_CREATED.value),
    )


def _message_added(
    event: Envelope[MailParsed],
    account: AccountRef,
    ticket_id: uuid.UUID,
    message_id: uuid.UUID,
    rule: str,
) -> Envelope[TicketMessageAdded]:
    return new_envelope(
        EventType.TICKET_MESSAGE_ADDED,
        TicketMessageAdded(
            ticket_id=ticket_id,
            message_id=message_id,
            account_id=account.id,
            direction="inbound",
            match_rule=str(rule),
            sender_email=event.payload.from_.email if event.payload.from_ else "",
        ),
        tenant_id=account.tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.TICKET_MESSAGE_ADDED.value),
    )


def _ticket_assigned(
    event: Envelope[MailParsed], account: AccountRef, ticket_id: uuid.UUID, choice: AssigneeChoice
) -> Envelope[TicketAssigned]:
    return new_envelope(
        EventType.TICKET_ASSIGNED,
        TicketAssigned(
            ticket_id=ticket_id,
            account_id=account.id,
            assignee_id=choice.user_id,
            rule=str(choice.rule),
            reason=choice.reason,
        ),
        tenant_id=account.tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.TICKET_ASSIGNED.value),
    )
