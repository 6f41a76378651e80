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
    User,
)


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
    blobs: BlobStore, text: str = "It is on fire.", html: str | None = "<p>It is on fire.</p>"
) -> str:
    """Put a body document as the parser stores it; returns its blob reference."""
    return await blobs.put(json.dumps({"text": text, "html": html}).encode())


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
