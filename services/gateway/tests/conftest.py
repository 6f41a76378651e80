"""Fixtures of the gateway's tests: a seeded world of two tenants and a client on the app.

Every name (slugs, logins, mailbox addresses) carries a random suffix, so the
world never collides with rows other test modules write to the shared
session database. Test modules cannot import this file (importlib import
mode), so they receive `World` through the `world` fixture typed as `Any`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from litestar import Litestar
from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions, make_engine, make_sessions
from postdesk_schema import (
    AccountKind,
    AssignmentRole,
    Attachment,
    EmailAccount,
    EmailAssignment,
    Message,
    Notification,
    SmtpServer,
    Tenant,
    TenantRole,
    Ticket,
    User,
)
from postdesk_testing import asgi_client, started
from sqlmodel import col, delete

PASSWORD = "correct horse battery staple"
JWT_SECRET = "test-secret-" + "x" * 32
BULK_TICKETS = 7


@dataclass
class World:
    """What `seed_world` created; ids by role and by name."""

    suffix: str
    tenant_a: uuid.UUID
    tenant_b: uuid.UUID
    users: dict[str, User] = field(default_factory=dict)
    accounts: dict[str, EmailAccount] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    bulk_ticket_ids: list[uuid.UUID] = field(default_factory=list)

    def email(self, role: str) -> str:
        return self.users[role].email

    def tickets_of(self, *accounts: str) -> set[uuid.UUID]:
        ids = {self.accounts[a].id for a in accounts}
        found = {t.id for t in self.tickets.values() if t.account_id in ids}
        if "bulk" in accounts:
            found |= set(self.bulk_ticket_ids)
        return found


def make_user(tenant_id: uuid.UUID, name: str, suffix: str, **overrides: Any) -> User:
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "email": f"{name}-{suffix}@example.test",
        "password_hash": PasswordHasher().hash(PASSWORD),
        "full_name": name.title(),
    }
    return User(**(values | overrides))


def make_ticket(
    tenant_id: uuid.UUID, account_id: uuid.UUID, number: int, **overrides: Any
) -> Ticket:
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "number": number,
        "account_id": account_id,
        "subject": f"Question {number}",
        "customer_email": f"customer{number}@client.test",
        "customer_name": f"Customer {number}",
        "message_count": 1,
    }
    return Ticket(**(values | overrides))


def make_message(ticket: Ticket, message_id: str, **overrides: Any) -> Message:
    values: dict[str, Any] = {
        "tenant_id": ticket.tenant_id,
        "ticket_id": ticket.id,
        "account_id": ticket.account_id,
        "message_id_header": message_id,
        "subject": ticket.subject,
        "from_email": ticket.customer_email,
        "from_name": ticket.customer_name,
        "to": [{"name": "", "email": "support@example.test"}],
        "text_body": "Hello, I have a question.",
        "match_rule": "new-ticket",
    }
    return Message(**(values | overrides))


async def seed_world(sessions: Sessions) -> World:
    """Two tenants; in A: admin, primary, backup, viewer, an unassigned and an inactive user.

    Mailboxes of A: `support` (primary, backup, viewer and the inactive user
    assigned), `sales` (nobody but the backup, whose assignment is inactive)
    and `bulk` (the primary; many tickets with tied timestamps, for paging).
    B has one admin, one mailbox and one ticket.
    """
    suffix = uuid.uuid4().hex[:8]
    # Tests number their own tickets below 100,000; the gateway's compose takes numbers above.
    tenant_a = Tenant(name="Acme", slug=f"acme-{suffix}", next_ticket_number=100_000)
    tenant_b = Tenant(name="Globex", slug=f"globex-{suffix}", next_ticket_number=100_000)
    world = World(suffix=suffix, tenant_a=tenant_a.id, tenant_b=tenant_b.id)
    a, b = tenant_a.id, tenant_b.id
    world.users = {
        "admin": make_user(a, "admin", suffix, role=TenantRole.ADMIN),
        "primary": make_user(a, "primary", suffix),
        "backup": make_user(a, "backup", suffix),
        "viewer": make_user(a, "viewer", suffix),
        "unassigned": make_user(a, "unassigned", suffix),
        "inactive": make_user(a, "inactive", suffix, is_active=False),
        "admin_b": make_user(b, "admin-b", suffix, role=TenantRole.ADMIN),
    }
    world.accounts = {
        name: EmailAccount(
            tenant_id=tenant, address=f"{name}-{suffix}@{slug}.test", kind=AccountKind.SHARED
        )
        for name, tenant, slug in [
            ("support", a, "acme"),
            ("sales", a, "acme"),
            ("bulk", a, "acme"),
            ("b_support", b, "globex"),
        ]
    }
    u, acc = world.users, world.accounts

    def assign(user: str, account: str, role: AssignmentRole, **rights: Any) -> EmailAssignment:
        return EmailAssignment(
            tenant_id=u[user].tenant_id,
            account_id=acc[account].id,
            user_id=u[user].id,
            role=role,
            **rights,
        )

    assignments = [
        assign("primary", "support", AssignmentRole.PRIMARY, can_send=True),
        assign("backup", "support", AssignmentRole.BACKUP, can_send=True, priority=1),
        assign("viewer", "support", AssignmentRole.VIEWER, can_send=False),
        assign("inactive", "support", AssignmentRole.BACKUP, can_send=True),
        assign("backup", "sales", AssignmentRole.BACKUP, can_send=True, is_active=False),
        assign("primary", "bulk", AssignmentRole.PRIMARY, can_send=True),
    ]
    base = datetime(2025, 1, 1, tzinfo=UTC)
    world.tickets = {
        "support_1": make_ticket(
            a, acc["support"].id, 1, assignee_id=u["primary"].id, last_message_at=base
        ),
        "support_2": make_ticket(
            a,
            acc["support"].id,
            2,
            subject="RE: Invoice",
            last_message_at=base + timedelta(hours=1),
        ),
        "sales_1": make_ticket(a, acc["sales"].id, 3, last_message_at=base),
        "b_1": make_ticket(b, acc["b_support"].id, 1, last_message_at=base),
    }
    bulk = [
        make_ticket(a, acc["bulk"].id, 100 + i, last_message_at=base - timedelta(days=1 + i // 3))
        for i in range(BULK_TICKETS)
    ]
    world.bulk_ticket_ids = [t.id for t in bulk]
    t = world.tickets
    first = make_message(t["support_1"], f"first-{suffix}@client.test", created_at=base)
    reply = make_message(
        t["support_1"],
        f"second-{suffix}@client.test",
        in_reply_to=[first.message_id_header],
        references=[first.message_id_header],
        match_rule="in-reply-to",
        created_at=base + timedelta(minutes=5),
    )
    outbound = make_message(
        t["support_1"],
        f"out-{suffix}@acme.test",
        direction="outbound",
        from_email=acc["support"].address,
        created_at=base + timedelta(minutes=10),
    )
    world.messages = {"first": first, "reply": reply, "outbound": outbound}
    others = [
        make_message(t[name], f"{name}-{suffix}@client.test")
        for name in ("support_2", "sales_1", "b_1")
    ]
    attachment = Attachment(
        tenant_id=a,
        message_id=first.id,
        filename="invoice.pdf",
        content_type="application/pdf",
        size=1234,
        blob_ref="sha256:" + "1" * 64,
    )
    notification = Notification(
        tenant_id=a,
        user_id=u["primary"].id,
        kind="ticket.assigned",
        ticket_id=t["support_1"].id,
        title="Ticket #1 assigned to you: Question 1",
        source_event_id=uuid.uuid4(),
    )
    async with sessions() as session:
        session.add_all([tenant_a, tenant_b])
        await session.flush()
        session.add_all(list(u.values()))
        await session.flush()
        session.add_all(list(acc.values()))
        await session.flush()
        session.add_all(assignments)
        session.add_all([*t.values(), *bulk])
        await session.flush()
        session.add_all([first, reply, outbound, *others])
        await session.flush()
        session.add_all([attachment, notification])
        await session.commit()
    return world


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url, pool_size=2)
    yield make_sessions(engine)
    await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(sessions: Sessions) -> World:
    return await seed_world(sessions)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def settings(database_url: str, amqp_url: str) -> GatewaySettings:
    return GatewaySettings(database_url=database_url, amqp_url=amqp_url, jwt_secret=JWT_SECRET)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(settings: GatewaySettings) -> AsyncIterator[Litestar]:
    """The gateway after its startup (broker connected, relay running), shut down after."""
    application = create_app(settings)
    async with started(application):
        yield application


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, in the test's own event loop (no thread portal)."""
    async with asgi_client(app) as http:
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tokens(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A bearer token per active user of the world, from the real login endpoint."""
    found: dict[str, str] = {}
    for role in ("admin", "primary", "backup", "viewer", "unassigned", "admin_b"):
        response = await client.post(
            "/auth/login", json={"email": world.email(role), "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        found[role] = response.json()["access_token"]
    return found


@pytest.fixture
def auth(tokens: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """`auth("viewer")`: the Authorization header of that user."""
    return lambda role: {"Authorization": f"Bearer {tokens[role]}"}


@pytest.fixture
async def clean_smtp_servers(sessions: Sessions, world: World) -> AsyncIterator[None]:
    """The test starts and ends without SMTP settings in the world's tenants."""

    async def remove() -> None:
        async with sessions() as session, session.begin():
            await session.execute(
                delete(SmtpServer).where(
                    col(SmtpServer.tenant_id).in_([world.tenant_a, world.tenant_b])
                )
            )

    await remove()
    yield
    await remove()
