"""Use cases of the gateway. Each takes its session and ports as arguments.

Every read of a ticket's mail writes an audit row, committed before the
data is returned; a reply's outbound.requested event is committed through the outbox in the
same transaction as its audit row, then the relay is woken to publish it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from postdesk_contracts import Address, EventType, OutboundRequested, new_envelope
from postdesk_contracts.api import (
    Me,
    NotificationList,
    ReplyAccepted,
    TicketDetail,
    TicketPage,
    TokenResponse,
)
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import Ticket, TicketStatus
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, views
from postdesk_gateway.auth import Passwords, TokenService
from postdesk_gateway.domain import (
    AuthenticationError,
    CurrentUser,
    ForbiddenError,
    NotFoundError,
    TicketCursor,
    decode_cursor,
    encode_cursor,
    reply_references,
    reply_subject,
)

SERVICE = "gateway"
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
    detail = views.ticket_detail(ticket, await db.ticket_messages(session, ticket))
    db.audit(session, user, action="ticket.read", object_type="ticket", object_id=ticket.id, ip=ip)
    await session.commit()
    return detail


async def request_reply(
    session: AsyncSession,
    user: CurrentUser,
    ticket_id: uuid.UUID,
    text: str,
    *,
    ip: str,
    wake_relay: Callable[[], None],
) -> ReplyAccepted:
    """Queue a reply to the ticket's customer: outbound.requested through the outbox.

    Needs can_send on the ticket's mailbox (or tenant admin): 403 otherwise,
    404 if the ticket is not visible at all.
    """
    ticket = await _visible_ticket(session, user, ticket_id)
    if not user.is_admin:
        assignment = await db.active_assignment(session, user, ticket.account_id)
        if assignment is None or not assignment.can_send:
            raise ForbiddenError("you may not send from this mailbox")
    parent = await db.last_inbound_message(session, ticket)
    outbound_id = uuid.uuid4()
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
