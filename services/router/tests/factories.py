"""Factories for the router's tests: parsed-mail events and seeded tenants.

Every seeded tenant gets addresses of its own (random suffix), so tests that
share one database never see each other's accounts.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from postdesk_contracts import Address, Envelope, EventType, MailParsed, new_envelope
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import (
    AssignmentRole,
    Department,
    EmailAccount,
    EmailAssignment,
    Tenant,
    Ticket,
    TicketStatus,
    User,
)
from sqlalchemy import update
from sqlmodel import col


def make_parsed(**overrides: Any) -> MailParsed:
    """A human email from a customer to cs@ of no tenant in particular; override any field."""
    message_id = overrides.pop("message_id", f"{uuid.uuid4().hex}@customer.example")
    raw = f"raw of {message_id}".encode()
    fields: dict[str, Any] = {
        "raw_blob_ref": "sha256:" + hashlib.sha256(raw).hexdigest(),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "body_blob_ref": "sha256:" + "0" * 64,
        "message_id": message_id,
        "subject": "Printer on fire",
        "from_": Address(name="Carol Customer", email="carol@customer.example"),
        "to": [Address(email="cs@nowhere.example")],
        "text_preview": "It is on fire.",
        "received_at": datetime.now(UTC),
    }
    fields.update(overrides)
    return MailParsed(**fields)


def make_event(payload: MailParsed, *, event_id: uuid.UUID | None = None) -> Envelope[MailParsed]:
    return new_envelope(EventType.MAIL_PARSED, payload, event_id=event_id)


async def store_body(
    blobs: BlobStore,
    text: str = "It is on fire.",
    html: str | None = "<p>It is on fire.</p>",
    reply_text: str | None = None,
) -> str:
    """Put a body document as the parser stores it; returns its blob reference."""
    document: dict[str, str | None] = {"text": text, "html": html}
    if reply_text is not None:
        document["reply_text"] = reply_text
    return await blobs.put(json.dumps(document).encode())


@dataclass
class Seed:
    tenant: Tenant
    department: Department
    account: EmailAccount
    users: dict[str, User] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.account.address


async def seed_tenant(
    sessions: Sessions,
    assignments: Sequence[tuple[str, AssignmentRole, int, bool, bool]] = (),
) -> Seed:
    """A tenant with a department and one active shared account cs-<suffix>@<slug>.example.

    `assignments` holds (user name, role, priority, assignment active, user active).
    """
    suffix = uuid.uuid4().hex[:10]
    tenant = Tenant(name=f"Acme {suffix}", slug=f"acme-{suffix}")
    department = Department(tenant_id=tenant.id, name="Support")
    account = EmailAccount(
        tenant_id=tenant.id, address=f"cs-{suffix}@acme.example", department_id=department.id
    )
    seed = Seed(tenant, department, account)
    rows: list[Any] = []
    for name, role, priority, assignment_active, user_active in assignments:
        user = User(
            tenant_id=tenant.id,
            email=f"{name}-{suffix}@acme.example",
            password_hash="x",
            full_name=name.title(),
            is_active=user_active,
        )
        seed.users[name] = user
        rows.append(user)
        rows.append(
            EmailAssignment(
                tenant_id=tenant.id,
                account_id=account.id,
                user_id=user.id,
                role=role,
                priority=priority,
                is_active=assignment_active,
            )
        )
    async with sessions() as session, session.begin():
        session.add(tenant)
        await session.flush()
        session.add(department)
        await session.flush()
        session.add(account)
        await session.flush()
        for row in rows:
            session.add(row)
            await session.flush()
    return seed


async def set_routing_strategy(sessions: Sessions, seed: Seed, strategy: str) -> None:
    """Set the seed department's routing strategy (primary, round_robin, least_open, priority)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(Department)
            .where(col(Department.id) == seed.department.id)
            .values(routing_strategy=strategy)
        )


async def set_working_hours(
    sessions: Sessions, user: User, timezone: str, hours: dict[str, Any]
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(User)
            .where(col(User.id) == user.id)
            .values(timezone=timezone, working_hours=hours)
        )


async def set_reassign_after(sessions: Sessions, seed: Seed, minutes: int | None) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(EmailAccount)
            .where(col(EmailAccount.id) == seed.account.id)
            .values(reassign_after_minutes=minutes)
        )


async def add_ticket(
    sessions: Sessions,
    seed: Seed,
    *,
    assignee: User | None = None,
    status: str = "open",
    created_at: datetime | None = None,
    last_customer_message_at: datetime | None = None,
    last_agent_reply_at: datetime | None = None,
) -> Ticket:
    """A ticket on the seed's account, numbered from the tenant's counter."""
    at = created_at or datetime.now(UTC)
    async with sessions() as session, session.begin():
        number = (
            await session.execute(
                update(Tenant)
                .where(col(Tenant.id) == seed.tenant.id)
                .values(next_ticket_number=col(Tenant.next_ticket_number) + 1)
                .returning(col(Tenant.next_ticket_number) - 1)
            )
        ).scalar_one()
        ticket = Ticket(
            tenant_id=seed.tenant.id,
            number=number,
            account_id=seed.account.id,
            department_id=seed.account.department_id,
            subject=f"Ticket {number}",
            customer_email="carol@customer.example",
            status=TicketStatus(status),
            assignee_id=assignee.id if assignee else None,
            assignment_rule="primary" if assignee else "",
            message_count=1,
            last_customer_message_at=last_customer_message_at,
            last_agent_reply_at=last_agent_reply_at,
            created_at=at,
            updated_at=at,
            last_message_at=last_customer_message_at or at,
        )
        session.add(ticket)
    return ticket
