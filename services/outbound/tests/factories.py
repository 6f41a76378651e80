"""Factories for the outbound service's tests: a tenant with an account, and requests to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from postdesk_contracts import Address, Envelope, EventType, OutboundRequested, new_envelope
from postdesk_runtime import Sessions
from postdesk_schema import EmailAccount, Tenant


@dataclass
class Seed:
    tenant: Tenant
    account: EmailAccount


async def seed_account(sessions: Sessions, *, settings: dict[str, Any] | None = None) -> Seed:
    suffix = uuid.uuid4().hex[:10]
    tenant = Tenant(name=f"Acme {suffix}", slug=f"acme-{suffix}", settings=settings or {})
    account = EmailAccount(tenant_id=tenant.id, address=f"cs-{suffix}@acme.example")
    async with sessions() as session, session.begin():
        session.add(tenant)
        await session.flush()
        session.add(account)
    return Seed(tenant, account)


def make_request(seed: Seed, **overrides: Any) -> OutboundRequested:
    fields: dict[str, Any] = {
        "outbound_id": uuid.uuid4(),
        "account_id": seed.account.id,
        "kind": "reply",
        "to": [Address(name="Carol", email="carol@customer.example")],
        "subject": "Re: Printer on fire",
        "text": "Have you tried water?",
    }
    fields.update(overrides)
    return OutboundRequested(**fields)


def make_event(seed: Seed, request: OutboundRequested) -> Envelope[OutboundRequested]:
    return new_envelope(EventType.OUTBOUND_REQUESTED, request, tenant_id=seed.tenant.id)
