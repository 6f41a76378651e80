"""Use cases of the gateway. Each takes its session and ports as arguments.

Every read of a ticket's mail or history writes an audit row, committed before
the data is returned. A reply's outbound.requested, an undo's
outbound.cancelled and an agent's ticket.updated are committed through the
outbox in the same transaction as their audit row (and, for a change or an
undo, the ticket's history rows), then the relay is woken to publish them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import structlog
from postdesk_contracts import (
    Address,
    Attachment,
    EventType,
    OutboundCancelled,
    OutboundRequested,
    new_envelope,
)
from postdesk_contracts.api import (
    Me,
    OutboundCancelResult,
    ReplyAccepted,
    ReplyRequest,
    TicketDetail,
    TicketHistoryList,
)
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.outbound_policy import OutboundPolicy, Quota
from postdesk_runtime import ThreadTokens
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import (
    AuditLog,
    EmailAccount,
    Ticket,
    TicketHistory,
)
from postdesk_smtp.quota import quota_block
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, inbox_db, ticket_live, views
from postdesk_gateway.domain import (
    ConflictError,
    CurrentUser,
    ForbiddenError,
    IdempotencyKeyReusedError,
    NotFoundError,
    header_text,
    is_message_id,
    outbound_id_for,
    quota_problem,
    reply_subject,
    request_fingerprint,
    scheduled_send,
    thread_references,
)
from postdesk_gateway.sending_accounts import sending_account
from postdesk_gateway.uploads import Uploads

SERVICE = "gateway"
AGENT_RULE = "agent"
log = structlog.get_logger(__name__)


async def me(session: AsyncSession, user: CurrentUser) -> Me:
    accounts = await db.visible_accounts(session, user)
    return views.me(user, [views.account_access(user, acc, asg) for acc, asg in accounts])


async def _visible_ticket(session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID) -> Ticket:
    ticket = await db.get_visible_ticket(session, user, ticket_id)
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


async def read_ticket(
    session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID, *, ip: str
) -> TicketDetail:
    """The ticket with its messages (with when our mail not sent yet goes: one query for all of
    them); the read is audit-logged before it is returned."""
    ticket = await _visible_ticket(session, user, ticket_id)
    messages = await db.ticket_messages(session, ticket)
    send_times = await db.pending_send_times(
        session, ticket.tenant_id, [m.outbound_id for m, _ in messages if m.outbound_id]
    )
    detail = views.ticket_detail(ticket, messages, await db.sla_clocks(session, ticket), send_times)
    db.audit(session, user, action="ticket.read", object_type="ticket", object_id=ticket.id, ip=ip)
    await inbox_db.mark_read(session, user, ticket, datetime.now(UTC))
    await session.commit()
    return detail


async def ticket_history(
    session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID, *, ip: str
) -> TicketHistoryList:
    """Why the ticket is as it is, oldest first; audit-logged like a read of the ticket."""
    ticket = await _visible_ticket(session, user, ticket_id)
    history = views.ticket_history(await db.ticket_history(session, ticket))
    db.audit(
        session,
        user,
        action="ticket.history_read",
        object_type="ticket",
        object_id=ticket.id,
        ip=ip,
    )
    await session.commit()
    return history


async def _require_send_right(session: AsyncSession, user: CurrentUser, ticket: Ticket) -> None:
    """Acting on a ticket takes can_send on its mailbox (primary, backup) or tenant admin."""
    if user.is_admin:
        return
    assignment = await db.active_assignment(session, user, ticket.account_id)
    if assignment is None or not assignment.can_send:
        raise ForbiddenError("you may not act for this mailbox")


async def request_reply(
    session: AsyncSession,
    user: CurrentUser,
    ticket_id: uuid.UUID,
    reply: ReplyRequest,
    *,
    idempotency_key: str | None,
    ip: str,
    wake_relay: Callable[[], None],
    thread_tokens: ThreadTokens,
    uploads: Uploads,
    now: datetime | None = None,
) -> ReplyAccepted:
    """Queue a reply to the ticket's customer: outbound.requested through the outbox.

    Needs can_send on the ticket's mailbox (or tenant admin): 403 otherwise,
    404 if the ticket is not visible at all. The reply leaves from the ticket's
    mailbox, or from `reply.from_account_id` when the user may send from that
    one (`sending_account`, the rule of a new mail: 404 when not visible, 403
    without can_send or when deactivated); its SMTP server, quota, Message-ID
    domain and Reply-To are then that mailbox's. The reply carries a Message-ID
    signed for the ticket, a Reply-To per the tenant's policy (the ticket's
    reply-token address of the sending mailbox, or its address), In-Reply-To
    the latest inbound message and References the ticket's thread: an answer to
    either address threads to the ticket (ADR 0016). The audit row names the
    sending mailbox.

    With an `Idempotency-Key` the outbound_id derives from the user and the
    key, and so do the ids of the event and of the audit row: a retry of a
    committed request writes nothing and answers as the first time did (422
    if its ticket or body differ), and of two concurrent ones the primary
    key lets one commit. A full sending quota is a 429 that says which quota
    and when it frees; a bad `send_at` is a 400, and so is an attachment that
    is not one of the user's unexpired uploads (`Uploads.attachments`; 413
    when they are too large together). A replay is answered without
    re-checking the uploads: the first request was accepted with them.
    """
    now = now or datetime.now(UTC)
    ticket = await _visible_ticket(session, user, ticket_id)
    await _require_send_right(session, user, ticket)
    account = await _reply_account(session, user, ticket, reply.from_account_id)
    fingerprint = request_fingerprint(ticket.id, reply.model_dump_json())
    prepared = await prepare_send(
        session,
        user,
        account.id,
        idempotency_key=idempotency_key,
        send_at=reply.send_at,
        upload_ids=reply.attachments,
        uploads=uploads,
        now=now,
    )
    if isinstance(prepared, AuditLog):
        return _replayed(prepared, fingerprint)
    outbound_id, audit_id, send_at = prepared.outbound_id, prepared.audit_id, prepared.send_at
    attachments, policy = prepared.attachments, prepared.policy
    payload = _reply_payload(
        ticket,
        account,
        reply,
        await db.thread_messages(session, ticket),
        attachments=attachments,
        outbound_id=outbound_id,
        requested_by=user.id,
        send_at=send_at,
        reply_to_mode=policy.reply_to,
        thread_tokens=thread_tokens,
    )
    envelope = new_envelope(
        EventType.OUTBOUND_REQUESTED,
        payload,
        tenant_id=user.tenant_id,
        event_id=derived_event_id(outbound_id, EventType.OUTBOUND_REQUESTED.value),
    )
    goes_at = departure(send_at, now, policy.undo_seconds)
    session.add(outbox_row(SERVICE, envelope))
    db.audit(
        session,
        user,
        action="ticket.reply_requested",
        object_type="ticket",
        object_id=ticket.id,
        ip=ip,
        detail={
            "outbound_id": str(outbound_id),
            "event_id": str(envelope.id),
            "account_id": str(account.id),
            "from_address": account.address,
            "send_at": goes_at.isoformat(),
            "scheduled": send_at is not None,
            "request_sha256": fingerprint,
        },
        audit_id=audit_id,
    )
    try:
        await ticket_live.notify_ticket_changed(session, ticket, "reply_requested")
        await session.commit()
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        await session.rollback()
        earlier = await db.reply_audit(session, user.tenant_id, audit_id)
        if earlier is None or idempotency_key is None:
            raise
        return _replayed(earlier, fingerprint)
    wake_relay()
    log.info("reply requested", ticket_id=str(ticket.id), outbound_id=str(outbound_id))
    return _accepted(outbound_id, goes_at)


async def _reply_account(
    session: AsyncSession, user: CurrentUser, ticket: Ticket, from_account_id: uuid.UUID | None
) -> EmailAccount:
    """The mailbox a reply leaves from: the ticket's, or the chosen one the user may send from."""
    if from_account_id is None:
        return await db.ticket_account(session, ticket)
    return await sending_account(session, user, from_account_id)


@dataclass(frozen=True)
class PreparedSend:
    """What a reply and a new conversation both settle before writing anything."""

    outbound_id: uuid.UUID
    audit_id: uuid.UUID
    send_at: datetime | None
    attachments: list[Attachment]
    policy: OutboundPolicy


async def prepare_send(
    session: AsyncSession,
    user: CurrentUser,
    account_id: uuid.UUID,
    *,
    idempotency_key: str | None,
    send_at: datetime | None,
    upload_ids: Sequence[str],
    uploads: Uploads,
    now: datetime,
) -> PreparedSend | AuditLog:
    """The outbound and audit ids (derived from the user and the key when there is one), the
    checked send time and attachments, and the tenant's policy, after the quota pre-check
    (429); or, for a retry of a committed request with the same key, its audit row."""
    outbound_id = (
        outbound_id_for(user.id, idempotency_key) if idempotency_key is not None else uuid.uuid4()
    )
    audit_id = derived_event_id(outbound_id, "audit")
    if idempotency_key is not None:
        earlier = await db.reply_audit(session, user.tenant_id, audit_id)
        if earlier is not None:
            return earlier
    scheduled = scheduled_send(send_at, now)
    attachments = uploads.attachments(user, upload_ids, now=now)
    policy = await db.tenant_policy(session, user.tenant_id)
    await within_quota(session, user, account_id, policy.quota, now)
    return PreparedSend(outbound_id, audit_id, scheduled, attachments, policy)


async def within_quota(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID, quota: Quota, now: datetime
) -> None:
    """429 (`QuotaExceededError`) when a sending quota leaves no room for one more mail
    from `account_id` by `user`."""
    block = await quota_block(
        session,
        quota,
        tenant_id=user.tenant_id,
        account_id=account_id,
        requested_by=user.id,
        now=now,
    )
    if block is not None:
        log.info("mail refused: quota", quota=block.name, until=block.until.isoformat())
        raise quota_problem(block, now)


def departure(send_at: datetime | None, now: datetime, undo_seconds: int) -> datetime:
    """When a requested mail goes, as the outbound service schedules it: never inside the
    undo window, counted from a moment no later than its own, so the undo window an
    answer promises is never longer than the real one."""
    undo_until = now + timedelta(seconds=undo_seconds)
    return max(send_at, undo_until) if send_at else undo_until


def signed_message_id(
    thread_tokens: ThreadTokens, ticket_id: uuid.UUID, outbound_id: uuid.UUID, address: str
) -> str | None:
    """The Message-ID of an agent's mail on the ticket, signed for it, in the domain of the
    sending `address` (None without a domain: the outbound service derives one)."""
    domain = address.rpartition("@")[2]
    return thread_tokens.message_id(ticket_id, str(outbound_id), domain) if domain else None


def reply_to(
    thread_tokens: ThreadTokens, ticket_id: uuid.UUID, account: EmailAccount, mode: str
) -> list[Address]:
    """Reply-To per the tenant's policy: the ticket's reply-token address of the account
    (`token`, when the address takes one) or the account's own address."""
    address = account.address
    if mode == "token":
        address = thread_tokens.reply_address(ticket_id, account.address) or account.address
    return [Address(name=header_text(account.display_name), email=address)]


def _reply_payload(
    ticket: Ticket,
    account: EmailAccount,
    reply: ReplyRequest,
    thread: list[db.ThreadMessage],
    *,
    attachments: list[Attachment],
    outbound_id: uuid.UUID,
    requested_by: uuid.UUID,
    send_at: datetime | None,
    reply_to_mode: str,
    thread_tokens: ThreadTokens,
) -> OutboundRequested:
    parent = next((m for m in reversed(thread) if m.direction == "inbound"), None)
    in_reply_to = parent.message_id if parent and is_message_id(parent.message_id) else None
    return OutboundRequested(
        outbound_id=outbound_id,
        account_id=account.id,
        ticket_id=ticket.id,
        kind="reply",
        to=[Address(name=header_text(ticket.customer_name), email=ticket.customer_email)],
        cc=[Address(name=r.name, email=r.email) for r in reply.cc],
        bcc=[Address(name=r.name, email=r.email) for r in reply.bcc],
        subject=reply_subject(ticket.subject),
        text=reply.text,
        html=reply.html,
        in_reply_to=in_reply_to,
        references=thread_references(
            [m.message_id for m in thread],
            parent_references=parent.references if parent else (),
        ),
        requested_by=requested_by,
        message_id=signed_message_id(thread_tokens, ticket.id, outbound_id, account.address),
        reply_to=reply_to(thread_tokens, ticket.id, account, reply_to_mode),
        send_at=send_at,
        attachments=attachments,
    )


def _accepted(outbound_id: uuid.UUID, send_at: datetime | None) -> ReplyAccepted:
    return ReplyAccepted(
        outbound_id=outbound_id, send_at=send_at, undo_url=f"/outbound/{outbound_id}/cancel"
    )


def same_request(earlier: AuditLog, fingerprint: str) -> None:
    """422 (`IdempotencyKeyReusedError`) unless the request a key first went with (its audit
    row) is the one retried now."""
    if earlier.detail.get("request_sha256") != fingerprint:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used for a different request; use a new key"
        )


def _replayed(earlier: AuditLog, fingerprint: str) -> ReplyAccepted:
    """The answer to a retried request: the first one's, if it really is the same request."""
    same_request(earlier, fingerprint)
    stored_send_at = earlier.detail.get("send_at")
    return _accepted(
        uuid.UUID(str(earlier.detail["outbound_id"])),
        datetime.fromisoformat(stored_send_at) if stored_send_at else None,
    )


async def cancel_outbound(
    session: AsyncSession,
    user: CurrentUser,
    outbound_id: uuid.UUID,
    *,
    ip: str,
    wake_relay: Callable[[], None],
    now: datetime | None = None,
) -> OutboundCancelResult:
    """Undo a mail before it goes: the requesting user or a tenant admin, while it is scheduled.

    404 when the mail is not visible (another tenant's, or a ticket the user
    cannot see), 403 when it is but belongs to someone else, 409 when it is
    too late (the outbound service took it: sending, sent, failed) or, with
    `Retry-After`, too early (requested, but not recorded by the outbound
    service yet). Undoing an undone mail answers the same and changes
    nothing. The cancellation, outbound.cancelled, its audit row and the
    ticket's history row commit together.
    """
    now = now or datetime.now(UTC)
    state = await db.outbound_state(session, user.tenant_id, outbound_id)
    if state is None:
        await _not_recorded_yet(session, user, outbound_id)
    if not user.is_admin and state.requested_by != user.id:
        visible = state.ticket_id is not None and (
            await db.get_visible_ticket(session, user, state.ticket_id) is not None
        )
        if visible:
            raise ForbiddenError("only the user who sent it or an admin may undo this mail")
        raise NotFoundError("outbound mail not found")
    if state.status == "cancelled":
        return OutboundCancelResult(outbound_id=outbound_id)
    cancelled = await db.cancel_scheduled(session, user.tenant_id, outbound_id, now)
    if cancelled is None:
        await session.rollback()
        raise ConflictError(f"too late to undo: the mail is {state.status} already")
    envelope = new_envelope(
        EventType.OUTBOUND_CANCELLED,
        OutboundCancelled(
            outbound_id=outbound_id,
            account_id=cancelled.account_id,
            ticket_id=cancelled.ticket_id,
            cancelled_by=user.id,
        ),
        tenant_id=user.tenant_id,
        event_id=derived_event_id(outbound_id, EventType.OUTBOUND_CANCELLED.value),
    )
    session.add(outbox_row(SERVICE, envelope))
    db.audit(
        session,
        user,
        action="outbound.cancelled",
        object_type="outbound",
        object_id=outbound_id,
        ip=ip,
        detail={"ticket_id": str(cancelled.ticket_id), "event_id": str(envelope.id)},
    )
    if cancelled.ticket_id is not None:
        session.add(
            TicketHistory(
                tenant_id=user.tenant_id,
                ticket_id=cancelled.ticket_id,
                kind="undo",
                rule=AGENT_RULE,
                detail=f"outbound mail {outbound_id} undone before sending",
                actor_user_id=user.id,
                event_id=envelope.id,
                created_at=now,
            )
        )
        await ticket_live.notify_ticket_id_changed(
            session, user.tenant_id, cancelled.ticket_id, "reply_undone"
        )
    await session.commit()
    wake_relay()
    log.info("outbound mail undone", outbound_id=str(outbound_id))
    return OutboundCancelResult(outbound_id=outbound_id)


async def _not_recorded_yet(
    session: AsyncSession, user: CurrentUser, outbound_id: uuid.UUID
) -> NoReturn:
    """Raise for a mail the outbound service has no row of: 409 with Retry-After when it was
    requested (its event is on its way), 404 otherwise."""
    requested = await db.reply_audit(
        session, user.tenant_id, derived_event_id(outbound_id, "audit")
    )
    if requested is None or not (user.is_admin or requested.actor_user_id == user.id):
        raise NotFoundError("outbound mail not found")
    raise ConflictError(
        "the mail is still being queued; try to undo it again in a moment", retry_after=1
    )
