"""Use cases of the gateway. Each takes its session and ports as arguments.

Every read of a ticket's mail or history writes an audit row, committed before
the data is returned. A reply's outbound.requested and an agent's
ticket.updated are committed through the outbox in the same transaction as
their audit row (and, for a change, the ticket and its history rows), then
the relay is woken to publish them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from postdesk_contracts import (
    Address,
    EventType,
    OutboundRequested,
    TicketChange,
    TicketUpdated,
    new_envelope,
)
from postdesk_contracts.api import (
    Me,
    NotificationList,
    ReplyAccepted,
    TicketDetail,
    TicketFieldChange,
    TicketHistoryList,
    TicketPage,
    TicketUpdate,
    TicketUpdateResult,
    TokenResponse,
)
from postdesk_runtime import ThreadTokens
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import Ticket, TicketHistory, TicketPriority, TicketStatus
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, views
from postdesk_gateway.auth import Passwords, TokenService
from postdesk_gateway.domain import (
    AuthenticationError,
    CurrentUser,
    FieldChange,
    ForbiddenError,
    NotFoundError,
    TicketCursor,
    decode_cursor,
    encode_cursor,
    field_changes,
    reply_references,
    reply_subject,
)

SERVICE = "gateway"
AGENT_RULE = "agent"
log = structlog.get_logger(__name__)


async def login(
    session: AsyncSession, passwords: Passwords, tokens: TokenService, email: str, password: str
) -> TokenResponse:
    """A token for an active user's right password; one failure for every other case."""
    user = await db.find_login_user(session, email)
    ok = await passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok:
        log.info("login failed", reason="bad password" if user else "no such active user")
        raise AuthenticationError("invalid email or password")
    if passwords.needs_rehash(user.password_hash):
        await db.set_password_hash(session, user.id, await passwords.hash(password))
        await session.commit()
    log.info("login", user_id=str(user.id))
    return TokenResponse(
        access_token=tokens.issue(user.id, user.tenant_id),
        expires_in=int(tokens.lifetime.total_seconds()),
    )


async def me(session: AsyncSession, user: CurrentUser) -> Me:
    accounts = await db.visible_accounts(session, user)
    return views.me(user, [views.account_access(user, acc, asg) for acc, asg in accounts])


@dataclass(frozen=True)
class TicketQuery:
    status: TicketStatus | None = None
    account_id: uuid.UUID | None = None
    assigned_to_me: bool = False
    limit: int = 50
    cursor: str | None = None


async def list_tickets(session: AsyncSession, user: CurrentUser, query: TicketQuery) -> TicketPage:
    """One page of visible tickets; `next_cursor` is None on the last page."""
    rows = await db.list_tickets(
        session,
        user,
        status=query.status,
        account_id=query.account_id,
        assigned_to_me=query.assigned_to_me,
        after=decode_cursor(query.cursor) if query.cursor else None,
        limit=query.limit + 1,
    )
    page, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = (
        encode_cursor(TicketCursor(page[-1].last_message_at, page[-1].id)) if more else None
    )
    return TicketPage(items=[views.ticket_summary(t) for t in page], next_cursor=next_cursor)


async def _visible_ticket(session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID) -> Ticket:
    ticket = await db.get_visible_ticket(session, user, ticket_id)
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


async def read_ticket(
    session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID, *, ip: str
) -> TicketDetail:
    """The ticket with its messages; the read is audit-logged before it is returned."""
    ticket = await _visible_ticket(session, user, ticket_id)
    detail = views.ticket_detail(
        ticket, await db.ticket_messages(session, ticket), await db.sla_clocks(session, ticket)
    )
    db.audit(session, user, action="ticket.read", object_type="ticket", object_id=ticket.id, ip=ip)
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


def _apply(ticket: Ticket, changes: list[FieldChange], now: datetime) -> None:
    """Set the changed fields. closed_at follows the status; resolved_at is the
    router's (its SLA code stops the clocks and records the resolution)."""
    for change in changes:
        if change.field == "status":
            ticket.status = TicketStatus(change.new)
            ticket.closed_at = now if ticket.status is TicketStatus.CLOSED else None
        elif change.field == "priority":
            ticket.priority = TicketPriority(change.new)
    ticket.updated_at = now


async def update_ticket(
    session: AsyncSession,
    user: CurrentUser,
    ticket_id: uuid.UUID,
    update: TicketUpdate,
    *,
    ip: str,
    wake_relay: Callable[[], None],
) -> TicketUpdateResult:
    """An agent sets a ticket's status or priority.

    The row is locked while the change is made, so `old` in the history and in
    ticket.updated is the value really replaced. One transaction holds the
    ticket, a history row per changed field, the audit row and ticket.updated;
    asking for the values the ticket already has changes, records and emits nothing.
    Needs the send right (403), on a visible ticket (404).
    """
    ticket = await db.get_visible_ticket(session, user, ticket_id, lock=True)
    if ticket is None:
        raise NotFoundError("ticket not found")
    await _require_send_right(session, user, ticket)
    changes = field_changes(
        {"status": str(ticket.status), "priority": str(ticket.priority)},
        {"status": update.status, "priority": update.priority},
    )
    if not changes:
        unchanged = TicketUpdateResult(ticket=views.ticket_summary(ticket), changes=[])
        await session.rollback()  # releases the row lock (and expires `ticket`)
        return unchanged
    now = datetime.now(UTC)
    _apply(ticket, changes, now)
    envelope = new_envelope(
        EventType.TICKET_UPDATED,
        TicketUpdated(
            ticket_id=ticket.id,
            account_id=ticket.account_id,
            changes=[TicketChange(field=c.field, old=c.old, new=c.new) for c in changes],
            rule=AGENT_RULE,
            actor_id=user.id,
        ),
        tenant_id=user.tenant_id,
    )
    session.add(outbox_row(SERVICE, envelope))
    for change in changes:
        session.add(
            TicketHistory(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                kind=change.field,
                rule=AGENT_RULE,
                detail=f"{change.old} -> {change.new}",
                actor_user_id=user.id,
                event_id=envelope.id,
                created_at=now,
            )
        )
    db.audit(
        session,
        user,
        action="ticket.updated",
        object_type="ticket",
        object_id=ticket.id,
        ip=ip,
        detail={
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in changes],
            "event_id": str(envelope.id),
        },
    )
    await session.commit()
    wake_relay()
    log.info("ticket updated", ticket_id=str(ticket.id), fields=[c.field for c in changes])
    return TicketUpdateResult(
        ticket=views.ticket_summary(ticket),
        changes=[TicketFieldChange(field=c.field, old=c.old, new=c.new) for c in changes],
    )


async def request_reply(
    session: AsyncSession,
    user: CurrentUser,
    ticket_id: uuid.UUID,
    text: str,
    *,
    ip: str,
    wake_relay: Callable[[], None],
    thread_tokens: ThreadTokens,
) -> ReplyAccepted:
    """Queue a reply to the ticket's customer: outbound.requested through the outbox.

    Needs can_send on the ticket's mailbox (or tenant admin): 403 otherwise,
    404 if the ticket is not visible at all. The reply carries a Message-ID
    signed for the ticket and, when it fits, a Reply-To with the ticket's
    reply token, so the router files the customer's answer on this ticket.
    """
    ticket = await _visible_ticket(session, user, ticket_id)
    await _require_send_right(session, user, ticket)
    account = await db.ticket_account(session, ticket)
    parent = await db.last_inbound_message(session, ticket)
    outbound_id = uuid.uuid4()
    domain = account.address.rpartition("@")[2]
    reply_address = thread_tokens.reply_address(ticket.id, account.address)
    payload = OutboundRequested(
        outbound_id=outbound_id,
        account_id=ticket.account_id,
        ticket_id=ticket.id,
        kind="reply",
        to=[Address(name=ticket.customer_name, email=ticket.customer_email)],
        subject=reply_subject(ticket.subject),
        text=text,
        in_reply_to=parent.message_id_header if parent else None,
        references=reply_references(parent.message_id_header, parent.references) if parent else [],
        requested_by=user.id,
        message_id=thread_tokens.message_id(ticket.id, str(outbound_id), domain)
        if domain
        else None,
        reply_to=[Address(name=account.display_name, email=reply_address)] if reply_address else [],
    )
    envelope = new_envelope(EventType.OUTBOUND_REQUESTED, payload, tenant_id=user.tenant_id)
    session.add(outbox_row(SERVICE, envelope))
    db.audit(
        session,
        user,
        action="ticket.reply_requested",
        object_type="ticket",
        object_id=ticket.id,
        ip=ip,
        detail={"outbound_id": str(outbound_id), "event_id": str(envelope.id)},
    )
    await session.commit()
    wake_relay()
    log.info("reply requested", ticket_id=str(ticket.id), outbound_id=str(outbound_id))
    return ReplyAccepted(outbound_id=outbound_id)


async def notifications(
    session: AsyncSession, user: CurrentUser, *, limit: int
) -> NotificationList:
    rows = await db.user_notifications(session, user, limit=limit)
    return NotificationList(items=[views.notification_view(n) for n in rows])
