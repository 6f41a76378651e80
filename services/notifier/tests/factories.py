"""Factories for the notifier's tests: a tenant with a user, an account and an assigned ticket."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from postdesk_contracts import Envelope, EventType, TicketAssigned, new_envelope
from postdesk_runtime import Sessions
from postdesk_schema import EmailAccount, Tenant, Ticket, User


@dataclass
class Seed:
    tenant: Tenant
    user: User
    account: EmailAccount
    ticket: Ticket


async def seed_ticket(
    sessions: Sessions, *, user_active: bool = True, subject: str = "Printer on fire"
) -> Seed:
    suffix = uuid.uuid4().hex[:10]
    tenant = Tenant(name=f"Acme {suffix}", slug=f"acme-{suffix}")
    user = User(
        tenant_id=tenant.id,
        email=f"pat-{suffix}@acme.example",
        password_hash="x",
        full_name="Pat",
        is_active=user_active,
    )
    account = EmailAccount(tenant_id=tenant.id, address=f"cs-{suffix}@acme.example")
    ticket = Ticket(
        tenant_id=tenant.id,
        number=7,
        account_id=account.id,
        subject=subject,
        customer_email="carol@customer.example",
        assignee_id=user.id,
        assignment_rule="primary",
        message_count=1,
    )
    async with sessions() as session, session.begin():
        for row in (tenant, user, account, ticket):
            session.add(row)
            await session.flush()
    return Seed(tenant, user, account, ticket)


def make_assigned(seed: Seed, **overrides: object) -> Envelope[TicketAssigned]:
    """ticket.assigned of the seeded ticket to the seeded user; override payload fields."""
    payload = TicketAssigned.model_validate(
        {
            "ticket_id": seed.ticket.id,
            "account_id": seed.account.id,
            "assignee_id": seed.user.id,
            "rule": "primary",
            **overrides,
        }
    )
    return new_envelope(EventType.TICKET_ASSIGNED, payload, tenant_id=seed.tenant.id)
