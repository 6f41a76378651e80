"""A tenant with one account, for the SMTP settings tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from postdesk_runtime import Sessions
from postdesk_schema import EmailAccount, Tenant


@dataclass
class Seed:
    tenant: Tenant
    account: EmailAccount


async def seed_account(sessions: Sessions) -> Seed:
    suffix = uuid.uuid4().hex[:10]
    tenant = Tenant(name=f"Acme {suffix}", slug=f"acme-{suffix}")
    account = EmailAccount(tenant_id=tenant.id, address=f"cs-{suffix}@acme.example")
    async with sessions() as session, session.begin():
        session.add(tenant)
        await session.flush()
        session.add(account)
    return Seed(tenant, account)
