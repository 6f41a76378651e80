"""Queries of the gateway. The visibility rule lives here, once: `visible_tickets`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from postdesk_contracts.outbound_policy import (
    OutboundPolicy,
    usable_policy,
)
from postdesk_schema import (
    Attachment,
    AuditLog,
    EmailAccount,
    EmailAssignment,
    Message,
    OutboundMessage,
    SlaTimer,
    Tenant,
    TenantRole,
    Ticket,
    TicketHistory,
    User,
)
from sqlalchemy import ColumnElement, Select, and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway.domain import CurrentUser

log = structlog.get_logger(__name__)


def visible_tickets(user: CurrentUser) -> ColumnElement[bool]:
    """The SQL condition for tickets `user` may see.

    Never another tenant's, never a deleted one. Tenant admins see every ticket
    of their tenant; everyone else only tickets of mailboxes they hold an
    active assignment on, in any role (viewers included).
    """
    same_tenant = and_(col(Ticket.tenant_id) == user.tenant_id, col(Ticket.deleted_at).is_(None))
    if user.is_admin:
        return same_tenant
    assigned_accounts = select(col(EmailAssignment.account_id)).where(
        col(EmailAssignment.user_id) == user.id,
        col(EmailAssignment.tenant_id) == user.tenant_id,
        col(EmailAssignment.is_active).is_(True),
    )
    return and_(same_tenant, col(Ticket.account_id).in_(assigned_accounts))


def _current_user(user: User) -> CurrentUser:
    return CurrentUser(
        id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        full_name=user.full_name,
        role=str(user.role),
        department_id=user.department_id,
        is_admin=user.role == TenantRole.ADMIN,
    )


async def find_login_user(session: AsyncSession, email: str) -> User | None:
    """The active user whose login is `email` (compared lower-cased)."""
    return (
        await session.scalars(
            select(User).where(
                col(User.email) == email.strip().lower(), col(User.is_active).is_(True)
            )
        )
    ).one_or_none()


async def load_active_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    *,
    token_issued_at: datetime | None = None,
) -> CurrentUser | None:
    """The active user; with `token_issued_at`, only if their password has not changed since
    (a password change ends the sessions opened before it)."""
    conditions = [
        col(User.id) == user_id,
        col(User.tenant_id) == tenant_id,
        col(User.is_active).is_(True),
    ]
    if token_issued_at is not None:
        conditions.append(
            or_(
                col(User.password_changed_at).is_(None),
                col(User.password_changed_at) <= token_issued_at,
            )
        )
    user = (await session.scalars(select(User).where(*conditions))).one_or_none()
    return _current_user(user) if user is not None else None


async def set_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    user = await session.get(User, user_id)
    if user is not None:
        user.password_hash = password_hash


async def visible_accounts(
    session: AsyncSession, user: CurrentUser, *, account_id: uuid.UUID | None = None
) -> list[tuple[EmailAccount, EmailAssignment | None]]:
    """Mailboxes `user` can see (only `account_id`, when given), each with the user's
    active assignment on it (if any)."""
    on_assignment = and_(
        col(EmailAssignment.account_id) == col(EmailAccount.id),
        col(EmailAssignment.user_id) == user.id,
        col(EmailAssignment.is_active).is_(True),
    )
    query = (
        select(EmailAccount, EmailAssignment)
        .where(col(EmailAccount.tenant_id) == user.tenant_id)
        .order_by(col(EmailAccount.address))
    )
    if account_id is not None:
        query = query.where(col(EmailAccount.id) == account_id)
    if user.is_admin:
        query = query.outerjoin(EmailAssignment, on_assignment)
    else:
        query = query.join(EmailAssignment, on_assignment)
    rows = (await session.execute(query)).all()
    return [(account, assignment) for account, assignment in rows]


async def get_visible_ticket(
    session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID, *, lock: bool = False
) -> Ticket | None:
    """The ticket if `user` may see it; `lock` holds its row (FOR UPDATE) until the
    transaction ends, so a change reads the values it replaces."""
    query = select(Ticket).where(col(Ticket.id) == ticket_id, visible_tickets(user))
    if lock:
        query = query.with_for_update(of=Ticket).execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def ticket_account(session: AsyncSession, ticket: Ticket) -> EmailAccount:
    """The mailbox the ticket belongs to (a foreign key, so always there)."""
    return (
        await session.scalars(
            select(EmailAccount).where(
                col(EmailAccount.id) == ticket.account_id,
                col(EmailAccount.tenant_id) == ticket.tenant_id,
            )
        )
    ).one()


def merged_ticket_ids(ticket: Ticket) -> Select[tuple[uuid.UUID]]:
    """The ids of the ticket and of every ticket merged into it, at any depth."""
    merged = (
        select(col(Ticket.id))
        .where(col(Ticket.id) == ticket.id, col(Ticket.tenant_id) == ticket.tenant_id)
        .cte("merged", recursive=True)
    )
    merged = merged.union(
        select(col(Ticket.id)).where(
            col(Ticket.merged_into_id) == merged.c.id,
            col(Ticket.tenant_id) == ticket.tenant_id,
        )
    )
    return select(merged.c.id)


async def ticket_history(session: AsyncSession, ticket: Ticket) -> list[TicketHistory]:
    """The history of the ticket and of every ticket merged into it (at any depth),
    oldest first: a message moved here by a merge keeps the story of how it was matched."""
    query = (
        select(TicketHistory)
        .where(
            col(TicketHistory.tenant_id) == ticket.tenant_id,
            col(TicketHistory.ticket_id).in_(merged_ticket_ids(ticket)),
        )
        .order_by(col(TicketHistory.created_at), col(TicketHistory.id))
    )
    return list((await session.scalars(query)).all())


async def ticket_messages(
    session: AsyncSession, ticket: Ticket
) -> list[tuple[Message, list[Attachment]]]:
    """The ticket's messages, oldest first, each with its attachments."""
    messages = (
        await session.scalars(
            select(Message)
            .where(col(Message.ticket_id) == ticket.id, col(Message.tenant_id) == ticket.tenant_id)
            .order_by(col(Message.created_at), col(Message.id))
        )
    ).all()
    by_message: dict[uuid.UUID, list[Attachment]] = defaultdict(list)
    if messages:
        attachments = await session.scalars(
            select(Attachment)
            .where(col(Attachment.message_id).in_([m.id for m in messages]))
            .order_by(col(Attachment.created_at), col(Attachment.id))
        )
        for attachment in attachments:
            by_message[attachment.message_id].append(attachment)
    return [(message, by_message[message.id]) for message in messages]


async def last_inbound_message(session: AsyncSession, ticket: Ticket) -> Message | None:
    return (
        await session.scalars(
            select(Message)
            .where(
                col(Message.ticket_id) == ticket.id,
                col(Message.tenant_id) == ticket.tenant_id,
                col(Message.direction) == "inbound",
            )
            .order_by(col(Message.created_at).desc(), col(Message.id).desc())
            .limit(1)
        )
    ).one_or_none()


async def active_assignment(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID
) -> EmailAssignment | None:
    return (
        await session.scalars(
            select(EmailAssignment).where(
                col(EmailAssignment.account_id) == account_id,
                col(EmailAssignment.user_id) == user.id,
                col(EmailAssignment.tenant_id) == user.tenant_id,
                col(EmailAssignment.is_active).is_(True),
            )
        )
    ).one_or_none()


def audit(
    session: AsyncSession,
    user: CurrentUser,
    *,
    action: str,
    object_type: str,
    object_id: uuid.UUID,
    ip: str,
    detail: dict[str, Any] | None = None,
    audit_id: uuid.UUID | None = None,
) -> None:
    """Append an audit row to the session's transaction; `audit_id` (derived) makes a second
    row for the same action fail on the primary key."""
    session.add(
        AuditLog(
            id=audit_id or uuid.uuid4(),
            tenant_id=user.tenant_id,
            actor_user_id=user.id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            ip=ip,
            detail=detail or {},
        )
    )


async def sla_clocks(session: AsyncSession, ticket: Ticket) -> list[SlaTimer]:
    """The ticket's SLA clocks, first response first."""
    rows = await session.scalars(
        select(SlaTimer)
        .where(col(SlaTimer.ticket_id) == ticket.id, col(SlaTimer.tenant_id) == ticket.tenant_id)
        .order_by(col(SlaTimer.target))
    )
    return list(rows.all())


# ---- outbound mail: replies, quotas, undo -------------------------------------------------------

# Outbound messages the customer never received: their ids do not belong in References.
_UNDELIVERED = ("cancelled", "failed")


async def tenant_policy(session: AsyncSession, tenant_id: uuid.UUID) -> OutboundPolicy:
    """The tenant's sending policy; the defaults (and a warning) when its settings are unusable."""
    settings = (
        await session.execute(select(col(Tenant.settings)).where(col(Tenant.id) == tenant_id))
    ).scalar_one_or_none()
    policy, problem = usable_policy(settings)
    if problem:
        log.warning("unusable outbound settings; using the defaults", error=problem)
    return policy


@dataclass(frozen=True)
class ThreadMessage:
    direction: str
    message_id: str
    references: list[str]


async def thread_messages(session: AsyncSession, ticket: Ticket) -> list[ThreadMessage]:
    """The Message-IDs of the ticket's messages, inbound and outbound, oldest first
    (outbound ones left out when they were cancelled or failed)."""
    rows = await session.execute(
        select(col(Message.direction), col(Message.message_id_header), col(Message.references))
        .where(
            col(Message.ticket_id) == ticket.id,
            col(Message.tenant_id) == ticket.tenant_id,
            or_(
                col(Message.direction) != "outbound",
                col(Message.delivery_status).not_in(_UNDELIVERED),
            ),
        )
        .order_by(col(Message.created_at), col(Message.id))
    )
    return [ThreadMessage(r.direction, r.message_id_header, list(r.references)) for r in rows]


async def reply_audit(
    session: AsyncSession, tenant_id: uuid.UUID, audit_id: uuid.UUID
) -> AuditLog | None:
    """The audit row a reply request wrote under its derived id, if it was committed."""
    return (
        await session.scalars(
            select(AuditLog).where(
                col(AuditLog.id) == audit_id, col(AuditLog.tenant_id) == tenant_id
            )
        )
    ).one_or_none()


@dataclass(frozen=True)
class OutboundState:
    status: str
    requested_by: uuid.UUID | None
    ticket_id: uuid.UUID | None


async def outbound_state(
    session: AsyncSession, tenant_id: uuid.UUID, outbound_id: uuid.UUID
) -> OutboundState | None:
    row = (
        await session.execute(
            select(
                col(OutboundMessage.status),
                col(OutboundMessage.requested_by),
                col(OutboundMessage.ticket_id),
            ).where(
                col(OutboundMessage.id) == outbound_id,
                col(OutboundMessage.tenant_id) == tenant_id,
            )
        )
    ).first()
    return OutboundState(row.status, row.requested_by, row.ticket_id) if row else None


async def pending_send_times(
    session: AsyncSession, tenant_id: uuid.UUID, outbound_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each of these mails goes, for those still waiting for their time (scheduled:
    a scheduled send or the undo window), by outbound_id; one query for all of them."""
    if not outbound_ids:
        return {}
    rows = await session.execute(
        select(col(OutboundMessage.id), col(OutboundMessage.next_attempt_at)).where(
            col(OutboundMessage.tenant_id) == tenant_id,
            col(OutboundMessage.id).in_(outbound_ids),
            col(OutboundMessage.status) == "scheduled",
            col(OutboundMessage.next_attempt_at).is_not(None),
        )
    )
    return {row.id: row.next_attempt_at for row in rows}


@dataclass(frozen=True)
class CancelledRow:
    account_id: uuid.UUID
    ticket_id: uuid.UUID | None


async def cancel_scheduled(
    session: AsyncSession, tenant_id: uuid.UUID, outbound_id: uuid.UUID, now: datetime
) -> CancelledRow | None:
    """Undo a mail that is still waiting for its time: scheduled -> cancelled, or None.

    The gateway's one write to outbound_messages (ADR 2). The outbound
    service takes a row to send it only by the scheduled -> sending update,
    so of the two conditional updates exactly one wins.
    """
    row = (
        await session.execute(
            update(OutboundMessage)
            .where(
                col(OutboundMessage.id) == outbound_id,
                col(OutboundMessage.tenant_id) == tenant_id,
                col(OutboundMessage.status) == "scheduled",
                or_(
                    col(OutboundMessage.next_attempt_at).is_(None),
                    col(OutboundMessage.next_attempt_at) > now,
                ),
            )
            .values(status="cancelled", next_attempt_at=None, updated_at=now)
            .returning(col(OutboundMessage.account_id), col(OutboundMessage.ticket_id))
        )
    ).first()
    return CancelledRow(row.account_id, row.ticket_id) if row else None
