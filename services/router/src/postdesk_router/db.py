"""The router's queries. Every function runs inside the caller's transaction.

The router reads tenancy tables (accounts, assignments, users) and writes
tickets, messages, attachments, its own processing-log rows and
`tenants.next_ticket_number`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from postdesk_contracts.api_ticket_live import TICKET_EVENTS_CHANNEL, TicketChangeNotice
from postdesk_runtime.processing_log import append_processing_log
from postdesk_schema import (
    EmailAccount,
    InboundAddress,
    InboundDomain,
    Message,
    OutboundMessage,
    Ticket,
    TicketHistory,
    User,
)
from sqlalchemy import bindparam, func, or_, select, text, update
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import Select
from sqlmodel import col

STAGE = "router"


@dataclass(frozen=True)
class AccountRef:
    id: uuid.UUID
    tenant_id: uuid.UUID
    address: str
    department_id: uuid.UUID | None
    reopen_policy: str = "reopen"
    subject_match_days: int | None = None


_ACCOUNT_COLUMNS = (
    col(EmailAccount.id),
    col(EmailAccount.tenant_id),
    col(EmailAccount.address),
    col(EmailAccount.department_id),
    col(EmailAccount.reopen_policy),
    col(EmailAccount.subject_match_days),
)


def _account_ref(row: Any) -> AccountRef:
    return AccountRef(
        row.id,
        row.tenant_id,
        row.address,
        row.department_id,
        row.reopen_policy,
        row.subject_match_days,
    )


@dataclass(frozen=True)
class StoredMessage:
    id: uuid.UUID
    ticket_id: uuid.UUID


# The statements of the per-mail path are built once, with bound parameters: building a
# statement per call cost the router more CPU than PostgreSQL spent running it.
_ADDRESSES: BindParameter[list[str]] = bindparam("addresses", expanding=True)
_ACTIVE_ACCOUNTS = select(*_ACCOUNT_COLUMNS).where(
    col(EmailAccount.address).in_(_ADDRESSES), col(EmailAccount.is_active).is_(True)
)
_INBOUND_ADDRESS_ACCOUNTS: Select[Any, Any, Any, Any, Any, Any, Any] = (
    select(col(InboundAddress.address).label("inbound"), *_ACCOUNT_COLUMNS)
    .join(EmailAccount, col(EmailAccount.id) == col(InboundAddress.account_id))
    .where(
        col(InboundAddress.address).in_(_ADDRESSES),
        col(InboundAddress.is_active).is_(True),
        col(EmailAccount.is_active).is_(True),
    )
)
_CATCH_ALL_ACCOUNTS = (
    select(col(InboundDomain.domain), *_ACCOUNT_COLUMNS)
    .join(EmailAccount, col(EmailAccount.id) == col(InboundDomain.catch_all_account_id))
    .where(
        col(InboundDomain.domain).in_(bindparam("domains", expanding=True)),
        col(EmailAccount.is_active).is_(True),
    )
)


async def active_accounts(session: AsyncSession, addresses: Sequence[str]) -> dict[str, AccountRef]:
    """Active accounts among `addresses` (lower-cased), keyed by address."""
    if not addresses:
        return {}
    rows = await session.execute(_ACTIVE_ACCOUNTS, {"addresses": list(addresses)})
    return {row.address: _account_ref(row) for row in rows}


async def inbound_address_accounts(
    session: AsyncSession, addresses: Sequence[str]
) -> dict[str, AccountRef]:
    """Active accounts behind the active inbound addresses among `addresses`, keyed by the latter."""
    if not addresses:
        return {}
    rows: Result[Any] = await session.execute(
        _INBOUND_ADDRESS_ACCOUNTS, {"addresses": list(addresses)}
    )
    return {row.inbound: _account_ref(row) for row in rows}


async def catch_all_accounts(
    session: AsyncSession, domains: Sequence[str]
) -> dict[str, AccountRef]:
    """Active catch-all accounts of the inbound domains among `domains`, keyed by domain."""
    if not domains:
        return {}
    rows = await session.execute(_CATCH_ALL_ACCOUNTS, {"domains": list(domains)})
    return {row.domain: _account_ref(row) for row in rows}


MAX_LOCKED_MESSAGE_IDS = 64
_ADVISORY_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(h)) FROM "
    "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k"
    " ORDER BY h) AS ordered"
)


async def lock_message_ids(
    session: AsyncSession, tenant_id: uuid.UUID, message_ids: Sequence[str]
) -> None:
    """Serialise routing per Message-ID in one tenant until this transaction ends.

    The caller passes its own Message-ID first, then the ones it names
    (In-Reply-To, then References newest first). Two replicas routing copies
    of one email run one after the other (the second sees a duplicate), and
    so do a parent and any reply naming it: they share the parent's key, so
    a reply never misses a parent stored at the same moment, nor the parent
    its early reply. Keys are taken in one statement in hash order, so two
    transactions never wait on each other's keys in opposite orders. Only
    the first MAX_LOCKED_MESSAGE_IDS are locked (the direct parent comes
    first), bounding the lock table a hostile References header can fill.
    """
    keys = list(dict.fromkeys(f"postdesk.router:{tenant_id}:{m}" for m in message_ids if m))
    await advisory_locks(session, keys[:MAX_LOCKED_MESSAGE_IDS])


async def advisory_locks(session: AsyncSession, keys: Sequence[str]) -> None:
    """Transaction advisory locks on `keys`, taken in one statement in hash order, so two
    transactions never wait on each other's keys in opposite orders."""
    await session.execute(_ADVISORY_LOCKS, {"keys": list(keys)})


_FIND_MESSAGE = select(col(Message.id), col(Message.ticket_id)).where(
    col(Message.tenant_id) == bindparam("tenant_id"),
    col(Message.message_id_header) == bindparam("message_id"),
)


async def find_message(
    session: AsyncSession, tenant_id: uuid.UUID, message_id: str
) -> StoredMessage | None:
    row = (
        await session.execute(_FIND_MESSAGE, {"tenant_id": tenant_id, "message_id": message_id})
    ).first()
    return StoredMessage(row.id, row.ticket_id) if row else None


async def tickets_of_messages(
    session: AsyncSession, tenant_id: uuid.UUID, message_ids: Sequence[str]
) -> dict[str, uuid.UUID]:
    """Ticket ids of the tenant's stored messages among `message_ids`, keyed by Message-ID."""
    if not message_ids:
        return {}
    rows = await session.execute(
        _TICKETS_OF_MESSAGES, {"tenant_id": tenant_id, "message_ids": list(message_ids)}
    )
    return {row.message_id_header: row.ticket_id for row in rows}


_TICKETS_OF_MESSAGES = select(col(Message.message_id_header), col(Message.ticket_id)).where(
    col(Message.tenant_id) == bindparam("tenant_id"),
    col(Message.message_id_header).in_(bindparam("message_ids", expanding=True)),
)


async def ticket_by_number(
    session: AsyncSession, tenant_id: uuid.UUID, number: int
) -> uuid.UUID | None:
    """The id of the tenant's ticket `number` (merged or not), or None."""
    return (
        await session.execute(
            select(col(Ticket.id)).where(
                col(Ticket.tenant_id) == tenant_id, col(Ticket.number) == number
            )
        )
    ).scalar_one_or_none()


_PARTICIPANTS_AMONG = text(
    """
    SELECT DISTINCT lower(address) AS address FROM (
        SELECT t.customer_email AS address FROM tickets t
         WHERE t.id = :ticket AND t.tenant_id = :tenant
        UNION ALL
        SELECT m.from_email FROM messages m WHERE m.ticket_id = :ticket AND m.tenant_id = :tenant
        UNION ALL
        SELECT e ->> 'email' FROM messages m
          CROSS JOIN LATERAL jsonb_array_elements(
              CASE WHEN jsonb_typeof(m."to") = 'array' THEN m."to" ELSE '[]'::jsonb END
            || CASE WHEN jsonb_typeof(m.cc) = 'array' THEN m.cc ELSE '[]'::jsonb END) AS e
         WHERE m.ticket_id = :ticket AND m.tenant_id = :tenant
        UNION ALL
        SELECT u.email FROM users u WHERE u.tenant_id = :tenant AND u.is_active
        UNION ALL
        SELECT u.company_email FROM users u WHERE u.tenant_id = :tenant AND u.is_active
    ) AS participants
    WHERE lower(address) = ANY(CAST(:candidates AS text[]))
    """
)


async def participants_among(
    session: AsyncSession, tenant_id: uuid.UUID, ticket_id: uuid.UUID, candidates: Sequence[str]
) -> set[str]:
    """Those of `candidates` (lower-cased) who participate in the ticket: its customer, an
    address in From/To/Cc of one of its messages, or an active user of the tenant
    (login or company address)."""
    wanted = [c.strip().lower() for c in candidates if c and c.strip()]
    if not wanted:
        return set()
    rows = await session.execute(
        _PARTICIPANTS_AMONG, {"ticket": ticket_id, "tenant": tenant_id, "candidates": wanted}
    )
    return {row.address for row in rows}


_TIMESTAMP = Ticket.__table__.c.updated_at.type  # type: ignore[attr-defined]
_ADD_MESSAGE_TO_TICKET = (
    update(Ticket)
    .where(col(Ticket.id) == bindparam("ticket_id"))
    .values(
        message_count=col(Ticket.message_count) + 1,
        last_message_at=func.greatest(
            col(Ticket.last_message_at), bindparam("at", type_=_TIMESTAMP)
        ),
        updated_at=bindparam("now", type_=_TIMESTAMP),
    )
    .returning(col(Ticket.number))
)


async def add_message_to_ticket(session: AsyncSession, ticket_id: uuid.UUID, at: datetime) -> int:
    """Count one more message on the ticket; returns the ticket's number."""
    number = (
        await session.execute(
            _ADD_MESSAGE_TO_TICKET, {"ticket_id": ticket_id, "at": at, "now": datetime.now(UTC)}
        )
    ).scalar_one()
    return int(number)


async def notify_ticket_changed(
    session: AsyncSession, tenant_id: uuid.UUID, ticket_id: uuid.UUID, change: str
) -> None:
    """Tell the gateways' ticket streams, on commit, that the ticket changed."""
    notice = TicketChangeNotice(tenant_id=tenant_id, ticket_id=ticket_id, change=change)
    await session.execute(select(func.pg_notify(TICKET_EVENTS_CHANNEL, notice.model_dump_json())))


async def record_processing(
    session: AsyncSession,
    *,
    dedupe_key: str,
    status: str,
    sha256: str,
    raw_blob_ref: str,
    tenant_id: uuid.UUID | None = None,
    message_id_header: str | None = None,
    event_id: uuid.UUID | None = None,
    detail: str = "",
) -> None:
    """Append the router's processing-log row for one mail.parsed event (once per event).

    `event_id` is the event this stage emitted for it: mail.rejected, or
    ticket.message_added when routed; None for a duplicate.
    """
    await append_processing_log(
        session,
        stage=STAGE,
        dedupe_key=dedupe_key,
        status=status,
        sha256=sha256,
        raw_blob_ref=raw_blob_ref,
        tenant_id=tenant_id,
        message_id_header=message_id_header,
        event_id=event_id,
        detail=detail,
    )


@dataclass(frozen=True)
class TicketState:
    id: uuid.UUID
    status: str
    priority: str
    account_id: uuid.UUID


async def ticket_state(session: AsyncSession, ticket_id: uuid.UUID) -> TicketState:
    row = (
        await session.execute(
            select(
                col(Ticket.id), col(Ticket.status), col(Ticket.priority), col(Ticket.account_id)
            ).where(col(Ticket.id) == ticket_id)
        )
    ).one()
    return TicketState(row.id, str(row.status), str(row.priority), row.account_id)


async def tenant_ticket(
    session: AsyncSession, tenant_id: uuid.UUID, ticket_id: uuid.UUID
) -> uuid.UUID | None:
    """`ticket_id` when it is a ticket of the tenant, else None."""
    return (
        await session.execute(
            select(col(Ticket.id)).where(
                col(Ticket.id) == ticket_id, col(Ticket.tenant_id) == tenant_id
            )
        )
    ).scalar_one_or_none()


async def is_staff(session: AsyncSession, tenant_id: uuid.UUID, address: str | None) -> bool:
    """Whether `address` is an active user of the tenant (login or company address)."""
    wanted = (address or "").strip().lower()
    if not wanted:
        return False
    found = await session.execute(_IS_STAFF, {"tenant_id": tenant_id, "address": wanted})
    return found.first() is not None


_IS_STAFF = (
    select(col(User.id))
    .where(
        col(User.tenant_id) == bindparam("tenant_id"),
        col(User.is_active).is_(True),
        or_(
            func.lower(col(User.email)) == bindparam("address"),
            func.lower(col(User.company_email)) == bindparam("address"),
        ),
    )
    .limit(1)
)


MAX_SUBJECT_CANDIDATES = 20


async def recent_tickets_of_sender(
    session: AsyncSession, tenant_id: uuid.UUID, sender: str, since: datetime
) -> list[tuple[uuid.UUID, str]]:
    """(id, subject) of the sender's unmerged tickets active since `since`, newest first."""
    rows = await session.execute(
        select(col(Ticket.id), col(Ticket.subject))
        .where(
            col(Ticket.tenant_id) == tenant_id,
            col(Ticket.customer_email) == sender,
            col(Ticket.merged_into_id).is_(None),
            col(Ticket.last_message_at) >= since,
        )
        .order_by(col(Ticket.last_message_at).desc())
        .limit(MAX_SUBJECT_CANDIDATES)
    )
    return [(row.id, row.subject) for row in rows]


async def outbound_message_ids(
    session: AsyncSession, tenant_id: uuid.UUID, message_ids: Sequence[str]
) -> set[str]:
    """Those of `message_ids` that are messages we sent (direction outbound)."""
    if not message_ids:
        return set()
    rows = await session.execute(
        select(col(Message.message_id_header)).where(
            col(Message.tenant_id) == tenant_id,
            col(Message.message_id_header).in_(message_ids),
            col(Message.direction) == "outbound",
        )
    )
    return {row.message_id_header for row in rows}


async def change_status(
    session: AsyncSession, ticket_id: uuid.UUID, status: str, *, reopened: bool
) -> None:
    """Set the (locked) ticket's status; a reopen counts and clears closed_at."""
    values: dict[str, Any] = {"status": status, "updated_at": datetime.now(UTC)}
    if reopened:
        values |= {
            "reopened_count": col(Ticket.reopened_count) + 1,
            "closed_at": None,
            "resolved_at": None,
        }
    await session.execute(update(Ticket).where(col(Ticket.id) == ticket_id).values(**values))


async def note_activity(
    session: AsyncSession, ticket_id: uuid.UUID, at: datetime, *, by_staff: bool
) -> None:
    """Record the latest customer message or agent reply on the ticket."""
    statement = _NOTE_AGENT_REPLY if by_staff else _NOTE_CUSTOMER_MESSAGE
    await session.execute(statement, {"ticket_id": ticket_id, "at": at})


def _note_latest(column: Any) -> Any:
    at = bindparam("at", type_=_TIMESTAMP)
    return (
        update(Ticket)
        .where(col(Ticket.id) == bindparam("ticket_id"))
        .values({col(column): func.greatest(func.coalesce(col(column), at), at)})
    )


_NOTE_AGENT_REPLY = _note_latest(Ticket.last_agent_reply_at)
_NOTE_CUSTOMER_MESSAGE = _note_latest(Ticket.last_customer_message_at)


def history(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    ticket_id: uuid.UUID,
    kind: str,
    rule: str,
    detail: str = "",
    message_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> None:
    session.add(
        history_row(
            tenant_id=tenant_id,
            ticket_id=ticket_id,
            kind=kind,
            rule=rule,
            detail=detail,
            message_id=message_id,
            event_id=event_id,
        )
    )


def history_row(
    *,
    tenant_id: uuid.UUID,
    ticket_id: uuid.UUID,
    kind: str,
    rule: str,
    detail: str = "",
    message_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> TicketHistory:
    return TicketHistory(
        tenant_id=tenant_id,
        ticket_id=ticket_id,
        message_id=message_id,
        kind=kind,
        rule=rule,
        detail=detail,
        event_id=event_id,
    )


@dataclass(frozen=True)
class BouncedMessage:
    id: uuid.UUID
    message_id_header: str
    outbound_id: uuid.UUID | None
    account_id: uuid.UUID
    ticket_id: uuid.UUID


async def mark_bounced(
    session: AsyncSession, tenant_id: uuid.UUID, message_ids: Sequence[str], reason: str
) -> list[BouncedMessage]:
    """Mark the tenant's outbound messages among `message_ids` bounced, with the reason, and
    the outbound service's rows of them failed (ADR 0002: the one row the router writes there).
    Returns the messages newly marked; one already marked is not returned again."""
    marked = await session.execute(
        update(Message)
        .where(
            col(Message.tenant_id) == tenant_id,
            col(Message.message_id_header).in_(message_ids),
            col(Message.direction) == "outbound",
            col(Message.delivery_status) != "bounced",
        )
        .values(delivery_status="bounced", delivery_failure=reason)
        .returning(
            col(Message.id),
            col(Message.message_id_header),
            col(Message.outbound_id),
            col(Message.account_id),
            col(Message.ticket_id),
        )
    )
    bounced = [
        BouncedMessage(r.id, r.message_id_header, r.outbound_id, r.account_id, r.ticket_id)
        for r in marked
    ]
    outbound_ids = [b.outbound_id for b in bounced if b.outbound_id is not None]
    if outbound_ids:
        await session.execute(
            update(OutboundMessage)
            .where(
                col(OutboundMessage.id).in_(outbound_ids),
                col(OutboundMessage.tenant_id) == tenant_id,
            )
            .values(status="failed", failure_reason=reason, updated_at=datetime.now(UTC))
        )
    return bounced
