"""A tenant of the CLI's settings tests, and the `postdesk` console script as a process.

Every seeded tenant has a slug and addresses of its own (random suffix), so
tests sharing one database never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from postdesk_runtime import Sessions
from postdesk_schema import AssignmentRole, Department, EmailAccount, EmailAssignment, Tenant, User

POSTDESK = Path(sys.executable).parent / "postdesk"


@dataclass(frozen=True)
class Tenancy:
    """Tenant `slug` with departments Support (cs@, ann primary, bob backup) and Sales (sales@)."""

    tenant: Tenant
    support: Department
    sales: Department
    cs: EmailAccount
    sales_account: EmailAccount
    ann: User
    bob: User

    @property
    def slug(self) -> str:
        return self.tenant.slug


async def seed_tenancy(sessions: Sessions) -> Tenancy:
    suffix = uuid.uuid4().hex[:10]
    slug = f"acme-{suffix}"
    tenant = Tenant(name=f"Acme {suffix}", slug=slug)
    support = Department(tenant_id=tenant.id, name="Support")
    sales = Department(tenant_id=tenant.id, name="Sales")
    cs = EmailAccount(tenant_id=tenant.id, address=f"cs@{slug}.example", department_id=support.id)
    sales_account = EmailAccount(
        tenant_id=tenant.id, address=f"sales@{slug}.example", department_id=sales.id
    )
    ann, bob = (
        User(
            tenant_id=tenant.id,
            email=f"{name}@{slug}.example",
            password_hash="x",
            full_name=name.title(),
        )
        for name in ("ann", "bob")
    )
    async with sessions() as session, session.begin():
        for row in (tenant, support, sales, cs, sales_account, ann, bob):
            session.add(row)
            await session.flush()  # no ORM relationships: parents before children
        for user, role in ((ann, AssignmentRole.PRIMARY), (bob, AssignmentRole.BACKUP)):
            session.add(
                EmailAssignment(tenant_id=tenant.id, account_id=cs.id, user_id=user.id, role=role)
            )
            await session.flush()
    return Tenancy(tenant, support, sales, cs, sales_account, ann, bob)


async def postdesk(database_url: str, *args: str) -> tuple[int, str, str]:
    """Run the installed `postdesk` console script; its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        POSTDESK,
        *args,
        env=os.environ | {"DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
