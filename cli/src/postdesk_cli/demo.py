"""A demo tenant as in the seeds: departments, staff in every role, shared and personal
mailboxes, and a tenant-wide SLA policy so tickets show clocks.

`seed_demo` is idempotent: run twice, it finds the tenant and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from postdesk_runtime.db import Sessions
from postdesk_schema import (
    AccountKind,
    AssignmentRole,
    Department,
    EmailAccount,
    EmailAssignment,
    InboundAddress,
    SlaPolicy,
    SmtpServer,
    Tenant,
    TenantRole,
    User,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_cli.inbound_rules import DEFAULT_INBOUND_DOMAIN, create_address
from postdesk_cli.services import MAILSINK_SMTP_PORT
from postdesk_cli.sla_rules import PolicySpec, create_policy

DEMO_SLUG = "acme"
DEMO_DOMAIN = "acme.example"
DEMO_PASSWORD = "postdesk-demo"  # noqa: S105  # printed for the demo tenant only


@dataclass(frozen=True)
class DemoUser:
    key: str
    full_name: str
    role: TenantRole
    department: str
    job_title: str


@dataclass(frozen=True)
class DemoInfo:
    tenant_id: uuid.UUID
    users: dict[str, str]
    accounts: dict[str, str]
    password: str
    created: bool
    inbound_address: str
    sla_policies: list[str]  # names of the tenant's active SLA policies
    smtp: str = ""  # where the tenant's mail goes, host:port


USERS = (
    DemoUser("admin", "Alice Admin", TenantRole.ADMIN, "Customer Service", "Head of Support"),
    DemoUser("john", "John Doe", TenantRole.MEMBER, "Customer Service", "Support Engineer"),
    DemoUser("sara", "Sara Lee", TenantRole.MEMBER, "Sales", "Account Executive"),
    DemoUser("victor", "Victor Viewer", TenantRole.MEMBER, "Customer Service", "Intern"),
)
# (account local part, kind, department, [(user, role, priority)])
ACCOUNTS = (
    (
        "cs",
        AccountKind.SHARED,
        "Customer Service",
        [
            ("john", AssignmentRole.PRIMARY, 0),
            ("sara", AssignmentRole.BACKUP, 1),
            ("victor", AssignmentRole.VIEWER, 0),
        ],
    ),
    ("sales", AccountKind.SHARED, "Sales", [("sara", AssignmentRole.PRIMARY, 0)]),
    ("john", AccountKind.PERSONAL, "Customer Service", [("john", AssignmentRole.PRIMARY, 0)]),
)
# users.working_hours (postdesk_contracts.schedule's format), in the users' timezone (UTC)
WORKING_HOURS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# calendar time, so the demo's clocks run whenever it is tried
SLA_POLICY = PolicySpec(name="Standard", first_response_minutes=60, resolution_minutes=8 * 60)


def address(local: str) -> str:
    return f"{local}@{DEMO_DOMAIN}"


async def seed_demo(
    sessions: Sessions, *, inbound_domain: str = DEFAULT_INBOUND_DOMAIN
) -> DemoInfo:
    """Create the demo tenant unless present, an inbound address of cs@ unless it has one,
    and the standard SLA policy unless the tenant has (or had) a policy."""
    async with sessions() as session, session.begin():
        tenant = (
            await session.scalars(select(Tenant).where(col(Tenant.slug) == DEMO_SLUG))
        ).first()
        created = tenant is None
        if tenant is None:
            tenant = await _create(session)
        users = (await session.scalars(select(User).where(col(User.tenant_id) == tenant.id))).all()
        accounts = (
            await session.scalars(
                select(EmailAccount).where(col(EmailAccount.tenant_id) == tenant.id)
            )
        ).all()
        inbound = await _inbound_address(session, tenant, accounts, inbound_domain)
        policies = await _sla_policies(session, tenant)
        smtp = await _smtp_server(session, tenant)
        return DemoInfo(
            tenant_id=tenant.id,
            users={u.email: u.role for u in users},
            accounts={a.address: a.kind for a in accounts},
            password=DEMO_PASSWORD,
            created=created,
            inbound_address=inbound,
            sla_policies=policies,
            smtp=smtp,
        )


async def _smtp_server(session: AsyncSession, tenant: Tenant) -> str:
    """The tenant's SMTP server as host:port; the local mail sink `postdesk up` starts
    (no TLS, no auth: loopback only) when the tenant has none."""
    server = (
        await session.scalars(
            select(SmtpServer).where(
                col(SmtpServer.tenant_id) == tenant.id, col(SmtpServer.account_id).is_(None)
            )
        )
    ).first()
    if server is None:
        server = SmtpServer(
            tenant_id=tenant.id, host="127.0.0.1", port=MAILSINK_SMTP_PORT, security="none"
        )
        session.add(server)
        await session.flush()
    return f"{server.host}:{server.port}"


async def _sla_policies(session: AsyncSession, tenant: Tenant) -> list[str]:
    """Names of the tenant's active policies; the standard one made now when it never had any
    (a policy the operator disabled is not brought back)."""
    policies = (
        await session.scalars(
            select(SlaPolicy)
            .where(col(SlaPolicy.tenant_id) == tenant.id)
            .order_by(col(SlaPolicy.created_at), col(SlaPolicy.id))
        )
    ).all()
    if not policies:
        policies = [await create_policy(session, tenant, SLA_POLICY)]
    return [p.name for p in policies if p.is_active]


async def _inbound_address(
    session: AsyncSession, tenant: Tenant, accounts: Sequence[EmailAccount], domain: str
) -> str:
    """The first active generated address of cs@, made now when there is none."""
    cs = next(a for a in accounts if a.address == address("cs"))
    existing = (
        await session.scalars(
            select(col(InboundAddress.address))
            .where(
                col(InboundAddress.account_id) == cs.id,
                col(InboundAddress.is_active).is_(True),
            )
            .order_by(col(InboundAddress.created_at), col(InboundAddress.address))
        )
    ).first()
    if existing is not None:
        return existing
    row = await create_address(session, cs, tenant, platform_domain=domain)
    return row.address


async def _create(session: AsyncSession) -> Tenant:
    tenant = Tenant(name="Acme Inc.", slug=DEMO_SLUG)
    session.add(tenant)
    await session.flush()  # no ORM relationships: flush parents before their children
    departments = {
        name: Department(tenant_id=tenant.id, name=name, routing_strategy="primary")
        for name in ("Customer Service", "Sales")
    }
    session.add_all(departments.values())
    await session.flush()
    password_hash = PasswordHasher().hash(DEMO_PASSWORD)
    users: dict[str, User] = {}
    for spec in USERS:
        users[spec.key] = User(
            tenant_id=tenant.id,
            email=address(spec.key),
            password_hash=password_hash,
            full_name=spec.full_name,
            role=spec.role,
            company_email=address(spec.key),
            department_id=departments[spec.department].id,
            job_title=spec.job_title,
            email_signature=f"{spec.full_name}\n{spec.job_title}, Acme Inc.",
            working_hours=WORKING_HOURS,
            notification_preferences={"digest": {"email": True}},
        )
    session.add_all(users.values())
    await session.flush()
    for local, kind, department, members in ACCOUNTS:
        account = EmailAccount(
            tenant_id=tenant.id,
            address=address(local),
            display_name=f"Acme {local.title()}",
            kind=kind,
            department_id=departments[department].id,
            owner_user_id=users[local].id if kind == AccountKind.PERSONAL else None,
            signature="The Acme team",
        )
        session.add(account)
        await session.flush()
        for user_key, role, priority in members:
            session.add(
                EmailAssignment(
                    tenant_id=tenant.id,
                    account_id=account.id,
                    user_id=users[user_key].id,
                    role=role,
                    can_send=role != AssignmentRole.VIEWER,
                    can_delete=role == AssignmentRole.PRIMARY,
                    can_assign_others=role == AssignmentRole.PRIMARY,
                    priority=priority,
                    assigned_by=users["admin"].id,
                )
            )
    return tenant
