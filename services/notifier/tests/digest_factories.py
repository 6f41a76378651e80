"""Factories for the digest tests: a tenant with mailboxes, its users, tickets and messages."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from postdesk_contracts.envelope import derived_event_id
from postdesk_notifier.digest import digest_outbound_id
from postdesk_runtime import Sessions
from postdesk_schema import (
    AssignmentRole,
    EmailAccount,
    EmailAssignment,
    Message,
    NotificationDigest,
    OutboxEvent,
    Tenant,
    Ticket,
    User,
)
from sqlalchemy import update
from sqlmodel import col

WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
DIGEST_ON: dict[str, Any] = {"digest": {"email": True}}


@dataclass
class Office:
    """A tenant with one shared mailbox; users and tickets added through its methods."""

    sessions: Sessions
    tenant: Tenant
    account: EmailAccount
    suffix: str
    users: list[uuid.UUID] = field(default_factory=list)
    next_number: int = 1

    async def add(self, *rows: Any) -> None:
        async with self.sessions() as session, session.begin():
            for row in rows:
                session.add(row)
                await session.flush()

    async def user(
        self,
        name: str,
        *,
        preferences: dict[str, Any] | None = None,
        hours: dict[str, Any] | None = None,
        timezone: str = "UTC",
        email: str | None = None,
        accounts: tuple[EmailAccount, ...] | None = None,
    ) -> User:
        """An active user (digest on unless `preferences` say otherwise) receiving mail of
        `accounts` (default: the office's mailbox)."""
        user = User(
            tenant_id=self.tenant.id,
            email=email or f"{name}-{self.suffix}@staff.example",
            password_hash="x",
            full_name=name.title(),
            timezone=timezone,
            working_hours=WEEKDAYS_9_TO_5 if hours is None else hours,
            notification_preferences=DIGEST_ON if preferences is None else preferences,
        )
        await self.add(user)
        self.users.append(user.id)
        for account in (self.account,) if accounts is None else accounts:
            await self.assign(account, user)
        return user

    async def assign(self, account: EmailAccount, user: User, **fields: Any) -> None:
        await self.add(
            EmailAssignment(
                tenant_id=self.tenant.id,
                account_id=account.id,
                user_id=user.id,
                role=AssignmentRole.PRIMARY,
                **fields,
            )
        )

    async def mailbox(self, local: str, **fields: Any) -> EmailAccount:
        account = EmailAccount(
            tenant_id=self.tenant.id, address=f"{local}-{self.suffix}@acme.example", **fields
        )
        await self.add(account)
        return account

    async def ticket(
        self, created_at: datetime, *, account: EmailAccount | None = None, **fields: Any
    ) -> Ticket:
        fields.setdefault("last_message_at", created_at)
        ticket = Ticket(
            tenant_id=self.tenant.id,
            number=self.next_number,
            account_id=(account or self.account).id,
            subject=fields.pop("subject", f"Question {self.next_number}"),
            customer_email="carol@customer.example",
            created_at=created_at,
            **fields,
        )
        self.next_number += 1
        await self.add(ticket)
        return ticket

    async def message(self, ticket: Ticket, at: datetime, *, direction: str = "inbound") -> None:
        await self.add(
            Message(
                tenant_id=self.tenant.id,
                ticket_id=ticket.id,
                account_id=ticket.account_id,
                direction=direction,
                message_id_header=f"{uuid.uuid4().hex}@customer.example",
                received_at=at,
                created_at=at,
            )
        )


@asynccontextmanager
async def office_maker(sessions: Sessions) -> AsyncIterator[Callable[[], Awaitable[Office]]]:
    """Make offices; their users are deactivated on exit, so no later test's scan (which
    looks at every user) sends them digests."""
    made: list[Office] = []

    async def make() -> Office:
        suffix = uuid.uuid4().hex[:10]
        tenant = Tenant(name=f"Acme {suffix}", slug=f"acme-{suffix}")
        account = EmailAccount(tenant_id=tenant.id, address=f"cs-{suffix}@acme.example")
        office = Office(sessions, tenant, account, suffix)
        await office.add(tenant, account)
        made.append(office)
        return office

    try:
        yield make
    finally:
        users = [user for office in made for user in office.users]
        async with sessions() as session, session.begin():
            await session.execute(
                update(User).where(col(User.id).in_(users)).values(is_active=False)
            )


async def digest_of(
    sessions: Sessions, user_id: uuid.UUID, local_date: date
) -> NotificationDigest | None:
    async with sessions() as session:
        return await session.get(NotificationDigest, (user_id, local_date))


async def digest_request(
    sessions: Sessions, user_id: uuid.UUID, local_date: date
) -> dict[str, Any] | None:
    """The envelope of the digest's outbound.requested in the outbox, if any."""
    event_id = derived_event_id(digest_outbound_id(user_id, local_date), "outbound.requested")
    async with sessions() as session:
        row = await session.get(OutboxEvent, event_id)
    if row is None:
        return None
    assert (row.service, row.routing_key) == ("notifier", "outbound.requested")
    envelope: dict[str, Any] = json.loads(row.body)
    return envelope
