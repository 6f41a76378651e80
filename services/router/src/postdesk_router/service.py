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

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog
from postdesk_contracts import (
    Envelope,
    EventType,
    MailFailed,
    MailParsed,
    MailRejected,
    TicketUpdated,
    new_envelope,
)
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.events import MailKind
from postdesk_runtime import (
    BlobStore,
    Sessions,
    ThreadTokens,
    add_to_outbox,
    claim_event,
    insert_rows,
    outbox_row,
)
from postdesk_runtime.failpoints import failpoint
from postdesk_schema import (
    TakeTicketNumber,
    TicketHistory,
    TicketPriority,
    TicketStatus,
    take_ticket_number,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_router import (
    assignment_db,
    autoreply_db,
    db,
    envelopes,
    matching,
    merge_db,
    rows,
    sla_db,
    status_events,
)
from postdesk_router.db import AccountRef
from postdesk_router.domain import (
    ClosedTicketAction,
    account_lookup_keys,
    bounce_reason,
    choose_account,
    closed_ticket_action,
    follow_up_rule,
    recipient_candidates,
    threading_keys,
    ticket_subject,
    unknown_recipient_reason,
)
from postdesk_router.merge import absorb_early_replies
from postdesk_router.settings import RouterSettings

BACKFILL_SOURCE = "imap-backfill"

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


@functools.cache
def default_thread_tokens() -> ThreadTokens:
    """Thread tokens under the keyring of the environment's settings."""
    return ThreadTokens.from_keyring(RouterSettings().keyring())


async def route_in_transaction(
    sessions: Sessions,
    blobs: BlobStore,
    event: Envelope[MailParsed],
    *,
    tokens: ThreadTokens | None = None,
    take_number: TakeTicketNumber = take_ticket_number,
    attempts: int = 3,
) -> RouteOutcome:
    """Route `event` in a transaction of its own, retrying on a lost unique-constraint race
    or a deadlock (ticket merges lock rows that concurrent joins lock too)."""
    for attempt in range(1, attempts + 1):
        try:
            async with sessions() as session, session.begin():
                outcome = await route_message(
                    session,
                    blobs,
                    event,
                    tokens=tokens or default_thread_tokens(),
                    take_number=take_number,
                )
                failpoint("router.before_commit")  # kill tests: all written, nothing committed
            failpoint("router.after_commit")  # kill tests: committed, the event not acked
            return outcome
        except DBAPIError as error:
            if (
                attempt == attempts
                or getattr(error.orig, "sqlstate", None) not in RETRIED_SQLSTATES
            ):
                raise
            log.info("routing raced a concurrent writer; retrying", attempt=attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


async def route_message(
    session: AsyncSession,
    blobs: BlobStore,
    event: Envelope[MailParsed],
    *,
    tokens: ThreadTokens,
    take_number: TakeTicketNumber = take_ticket_number,
) -> RouteOutcome:
    """Route one mail.parsed event inside the caller's transaction; a new ticket's number
    comes from `take_number` (the service's own transaction: `TicketNumbers`)."""
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

    bounced = mail.bounce.original_message_id if mail.bounce else None
    keys = threading_keys(mail.in_reply_to, mail.references, bounced)
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

    body = await rows.load_body(blobs, mail.body_blob_ref)
    keys, ours = await matching.keys_of_our_bounces(session, account.tenant_id, mail, keys)
    thread = await matching.find_thread(session, account, mail, keys, tokens)
    match = await matching.match_ticket(session, account.tenant_id, mail, thread)
    sender = mail.from_.email if mail.from_ else None
    from_staff = await db.is_staff(session, account.tenant_id, sender)
    action = ClosedTicketAction.NONE
    if match.ticket_id is not None and match.joins:
        action = closed_ticket_action(
            match.status, mail.classification.kind, account.reopen_policy, from_staff=from_staff
        )
    imported = mail.source == BACKFILL_SOURCE
    # a person's mail moves the ticket's "latest customer message" or "latest agent reply"
    notes_activity = mail.classification.kind == MailKind.HUMAN and not imported
    now = datetime.now(UTC)
    message_id = uuid.uuid4()
    events: list[Envelope[Any]] = []
    rule = match.rule
    created: _Created | None = None
    if match.ticket_id is None or not match.joins or action == ClosedTicketAction.FOLLOW_UP:
        # no match, a sender who may not join it, or a closed ticket followed up: a new ticket,
        # linked to the matched one if any
        if action == ClosedTicketAction.FOLLOW_UP:
            rule = follow_up_rule(rule)
        created = await _open_ticket(
            session,
            event,
            account,
            message_id,
            linked_to=match.ticket_id,
            now=now,
            take_number=take_number,
            activity_by_staff=from_staff if notes_activity else None,
        )
        ticket_id, number = created.ticket_id, created.number
        events.extend(created.events)
    else:
        ticket_id = match.ticket_id
        number = await db.add_message_to_ticket(session, ticket_id, mail.received_at)
        await db.notify_ticket_changed(session, account.tenant_id, ticket_id, "message_added")

    message = rows.message_row(message_id, ticket_id, account, mail, body, rule)
    await insert_rows(
        session, [message, *rows.attachment_rows(message_id, account.tenant_id, mail)]
    )
    merged = await absorb_early_replies(session, account.tenant_id, mail.message_id, ticket_id)
    events.extend(envelopes.merge_events(event, account, ticket_id, merged))
    if notes_activity and created is None:  # a new ticket's row has it already
        await db.note_activity(session, ticket_id, mail.received_at, by_staff=from_staff)
        if from_staff:
            await sla_db.on_agent_reply(session, ticket_id=ticket_id, at=mail.received_at)
    if action in (ClosedTicketAction.REOPEN, ClosedTicketAction.CUSTOMER_REPLIED):
        events.append(await _reopen(session, event, account, ticket_id, match.status, action, now))
    if mail.bounce is not None and ours:
        events.extend(await _record_bounce(session, event, account, ours, ticket_id))
    added = envelopes.message_added(
        event,
        account,
        ticket_id,
        message_id,
        rule,
        imported=imported,
        opened_ticket=created is not None,
    )
    events.append(added)
    matched = db.history_row(
        tenant_id=account.tenant_id,
        ticket_id=ticket_id,
        kind="matched",
        rule=str(rule),
        detail=matching.match_detail(mail, match, action),
        message_id=message_id,
        event_id=added.id,
    )
    await insert_rows(session, [*(created.history if created else []), matched])
    await add_to_outbox(session, SERVICE, events)
    auto_reply = None
    if created is not None and not imported:
        auto_reply = await autoreply_db.maybe_auto_reply(
            session,
            event=event,
            tenant_id=account.tenant_id,
            account_id=account.id,
            ticket_id=ticket_id,
            ticket_number=number,
            ticket_subject=ticket_subject(mail.subject),
            tokens=tokens,
            now=now,
            message_id=message_id,
        )
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
        emitted=len(events) + int(auto_reply is not None and auto_reply.sent),
        merged=tuple(t.id for t in merged),
    )


@dataclass(frozen=True)
class _Created:
    ticket_id: uuid.UUID
    number: int
    events: list[Envelope[Any]]
    history: list[TicketHistory]


async def _open_ticket(
    session: AsyncSession,
    event: Envelope[MailParsed],
    account: AccountRef,
    message_id: uuid.UUID,
    *,
    linked_to: uuid.UUID | None,
    now: datetime,
    take_number: TakeTicketNumber,
    activity_by_staff: bool | None,
) -> _Created:
    """A new ticket for the message, assigned, its SLA clocks started (not for imported mail);
    the mail noted as the latest customer message or agent reply unless
    `activity_by_staff` is None."""
    mail = event.payload
    imported = mail.source == BACKFILL_SOURCE
    ticket_id = uuid.uuid4()
    number = await take_number(session, account.tenant_id)
    choice = await assignment_db.assign_new_ticket(
        session,
        tenant_id=account.tenant_id,
        account_id=account.id,
        department_id=account.department_id,
        now=now,
    )
    await insert_rows(
        session,
        [
            rows.new_ticket_row(
                ticket_id,
                number,
                account,
                mail,
                choice,
                linked_to=linked_to,
                activity_by_staff=activity_by_staff,
            )
        ],
    )
    if not imported:
        await sla_db.start_clocks(
            session,
            tenant_id=account.tenant_id,
            ticket_id=ticket_id,
            account_id=account.id,
            department_id=account.department_id,
            priority=str(TicketPriority.NORMAL),
            at=mail.received_at,
        )
    created = envelopes.ticket_created(
        event, account, ticket_id, number, message_id, linked_to=linked_to, imported=imported
    )
    events: list[Envelope[Any]] = [created]
    history = [
        db.history_row(
            tenant_id=account.tenant_id,
            ticket_id=ticket_id,
            kind="created",
            rule="linked" if linked_to else "new",
            detail=f"linked to ticket {linked_to}" if linked_to else "",
            event_id=created.id,
        )
    ]
    if choice is not None:
        assigned = envelopes.ticket_assigned(event, account, ticket_id, choice, imported=imported)
        events.append(assigned)
        history.append(
            db.history_row(
                tenant_id=account.tenant_id,
                ticket_id=ticket_id,
                kind="assigned",
                rule=str(choice.rule),
                detail=choice.reason,
                event_id=assigned.id,
            )
        )
    else:
        history.append(
            db.history_row(
                tenant_id=account.tenant_id,
                ticket_id=ticket_id,
                kind="assigned",
                rule="unassigned",
                detail="nobody active holds the account as primary or backup",
            )
        )
    return _Created(ticket_id, number, events, history)


async def _reopen(
    session: AsyncSession,
    event: Envelope[MailParsed],
    account: AccountRef,
    ticket_id: uuid.UUID,
    old_status: str,
    action: ClosedTicketAction,
    now: datetime,
) -> Envelope[TicketUpdated]:
    """Open the matched ticket again: a closed one reopened, or a pending one answered."""
    reopened = action == ClosedTicketAction.REOPEN
    await db.change_status(session, ticket_id, str(TicketStatus.OPEN), reopened=reopened)
    await sla_db.on_status_change(
        session, ticket_id=ticket_id, old=old_status, new=str(TicketStatus.OPEN), at=now
    )
    rule = "reopened-by-customer" if reopened else "customer-replied"
    reason = (
        f"a reply to the {old_status} ticket reopened it (account reopen policy)"
        if reopened
        else "the customer answered a ticket pending on them"
    )
    return status_events.status_changed(
        session,
        event,
        tenant_id=account.tenant_id,
        account_id=account.id,
        ticket_id=ticket_id,
        old=old_status,
        new=str(TicketStatus.OPEN),
        rule=rule,
        reason=reason,
    )


async def _record_bounce(
    session: AsyncSession,
    event: Envelope[MailParsed],
    account: AccountRef,
    ours: set[str],
    ticket_id: uuid.UUID,
) -> list[Envelope[Any]]:
    """Mark the outbound messages a bounce reports on as bounced; mail.failed for each."""
    report = event.payload.bounce
    assert report is not None  # the caller checked
    reason = bounce_reason(report.status, report.reason, report.failed_recipients)
    failed: list[Envelope[Any]] = []
    for row in await db.mark_bounced(session, account.tenant_id, sorted(ours), reason):
        if row.outbound_id is None:
            continue
        envelope = new_envelope(
            EventType.MAIL_FAILED,
            MailFailed(
                outbound_id=row.outbound_id,
                account_id=row.account_id,
                ticket_id=row.ticket_id,
                reason=reason,
                permanent=not report.status.startswith("4"),
            ),
            tenant_id=account.tenant_id,
            caused_by=event,
            event_id=derived_event_id(event.id, f"mail.failed:{row.outbound_id}"),
        )
        failed.append(envelope)
        db.history(
            session,
            tenant_id=account.tenant_id,
            ticket_id=ticket_id,
            kind="bounce",
            rule="bounced",
            detail=f"our message {row.message_id_header} bounced: {reason}",
            message_id=row.id,
            event_id=envelope.id,
        )
    return failed


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
