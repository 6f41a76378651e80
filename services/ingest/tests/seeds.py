"""Seeding the recipient directory's tables for ingest tests.

Each seeded tenant uses a random domain (`<suffix>.example`) unless told
otherwise, so tests sharing one database never see each other's addresses.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from postdesk_runtime import make_engine, make_sessions
from postdesk_schema import EmailAccount, InboundAddress, InboundDomain, Tenant
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col


@dataclass
class SeededTenant:
    tenant_id: uuid.UUID
    domain: str
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)

    def at(self, local: str) -> str:
        return f"{local}@{self.domain}"


def random_domain() -> str:
    return f"t{uuid.uuid4().hex[:12]}.example"


async def seed_directory(
    database_url: str,
    *,
    domain: str | None = None,
    accounts: Sequence[str] = ("cs",),
    inactive_accounts: Sequence[str] = (),
    inbound: Sequence[tuple[str, str]] = (),
    inbound_domain: bool = False,
    catch_all: str | None = None,
) -> SeededTenant:
    """A tenant with accounts `<local>@<domain>`, inbound addresses (address, account local),
    and optionally its domain as inbound domain with the account `catch_all` as catch-all.

    Accounts whose full address already exists are left alone (idempotent seeding of
    fixed addresses like support@acme.example).
    """
    domain = domain or random_domain()
    tenant_id = uuid.uuid4()
    seeded = SeededTenant(tenant_id, domain)
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessions(engine)() as session, session.begin():
            session.add(Tenant(id=tenant_id, name=domain, slug=f"s-{tenant_id.hex}"))
            await session.flush()
            for local in [*accounts, *inactive_accounts]:
                account_id = uuid.uuid4()
                inserted = await session.execute(
                    insert(EmailAccount)
                    .values(
                        id=account_id,
                        tenant_id=tenant_id,
                        address=f"{local}@{domain}",
                        is_active=local not in inactive_accounts,
                    )
                    .on_conflict_do_nothing(index_elements=["address"])
                    .returning(col(EmailAccount.id))
                )
                if inserted.scalar_one_or_none() is not None:
                    seeded.accounts[local] = account_id
            await session.flush()
            for address, local in inbound:
                session.add(
                    InboundAddress(
                        tenant_id=tenant_id, address=address, account_id=seeded.accounts[local]
                    )
                )
            if inbound_domain:
                session.add(
                    InboundDomain(
                        tenant_id=tenant_id,
                        domain=domain,
                        catch_all_account_id=seeded.accounts[catch_all] if catch_all else None,
                    )
                )
    finally:
        await engine.dispose()
    return seeded
