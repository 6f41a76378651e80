"""Two tenants for the access-control tests: staff of every role, and rows to aim at.

Tenant A has an admin, a `primary`, a `backup` and a `viewer` (each assigned in that role to
every *staffed* mailbox) and an `outsider` (a member assigned nowhere); B has its admin.
`targets()` makes a fresh set of one row of every kind a path or body can name (a mailbox
with a ticket, message, attachment, undoable mail, notification, department, user,
assignment, SLA policy, inbound domain and address, IMAP mailbox, webhook with a delivery,
API token), so a request that changes or deletes its target leaves the others' alone.
Every text a set's rows carry contains the set's `marker`: an answer leaking the rows
contains it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from argon2 import PasswordHasher
from postdesk_contracts.api_access import ApiScope
from postdesk_gateway.access import hash_token, new_api_token
from postdesk_runtime import Sessions
from postdesk_runtime.blobstore import BlobStore
from postdesk_schema import (
    AccountKind,
    ApiToken,
    AssignmentRole,
    Attachment,
    Department,
    DepartmentManager,
    EmailAccount,
    EmailAssignment,
    ImapMailbox,
    InboundAddress,
    InboundDomain,
    Message,
    Notification,
    OutboundMessage,
    SlaPolicy,
    SmtpServer,
    Tenant,
    TenantRole,
    Ticket,
    User,
    WebhookDelivery,
    WebhookSubscription,
)
from postdesk_testing.gateway_login import PASSWORD, session_of

ROLES = ("admin", "primary", "backup", "viewer", "outsider")
NON_ADMINS = ROLES[1:]
# The rights each role holds on a staffed mailbox: what the admin API gives by default,
# and the primary may delete.
STAFF: dict[str, dict[str, Any]] = {
    "primary": {"role": AssignmentRole.PRIMARY, "can_send": True, "can_delete": True},
    "backup": {"role": AssignmentRole.BACKUP, "can_send": True},
    "viewer": {"role": AssignmentRole.VIEWER, "can_send": False},
}


@dataclass(frozen=True)
class Targets:
    """One row of every kind, by the name paths give its id, in one tenant and mailbox."""

    tenant_id: uuid.UUID
    marker: str
    ids: dict[str, uuid.UUID]
    second_ticket_id: uuid.UUID  # a merge's other ticket

    @property
    def id_texts(self) -> set[str]:
        return {str(value) for value in self.ids.values()} | {str(self.second_ticket_id)}


@dataclass
class Tenancy:
    id: uuid.UUID
    users: dict[str, User]
    numbers: int = 10_000  # ticket numbers the sets take, far below the gateway's


@dataclass
class AccessWorld:
    suffix: str
    sessions: Sessions
    password_hash: str
    blobs: BlobStore
    a: Tenancy
    b: Tenancy
    tokens: dict[str, str] = field(default_factory=dict)  # access token by role of A

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def targets(
        self,
        tenant: Tenancy,
        *,
        staffed: bool,
        marker: str | None = None,
        notified: str | None = "outsider",
    ) -> Targets:
        """A fresh set in `tenant`; a staffed one's mailbox has A's primary, backup and
        viewer assigned (only A's mailboxes can be). Its notification is for the tenant's
        `notified` user (None: the set's own user)."""
        marker = marker or f"mk{uuid.uuid4().hex[:12]}"
        unique = f"{marker}{uuid.uuid4().hex[:6]}"  # for names that must be unique
        t, admin = tenant.id, tenant.users["admin"]
        mailbox = EmailAccount(
            tenant_id=t, address=f"{unique}@box.test", kind=AccountKind.SHARED,
            display_name=marker,
        )  # fmt: skip
        person = self.user(t, marker)
        department = Department(tenant_id=t, name=marker, description=marker)
        tickets = [self.ticket(tenant, mailbox.id, marker) for _ in range(2)]
        message = Message(
            tenant_id=t, ticket_id=tickets[0].id, account_id=mailbox.id,
            message_id_header=f"{unique}@client.test", subject=marker,
            from_email=tickets[0].customer_email, text_body=marker, html_body=f"<p>{marker}</p>",
        )  # fmt: skip
        now = datetime.now(UTC)
        subscription = WebhookSubscription(
            tenant_id=t, url=f"https://{marker}.example/hook", description=marker,
            event_types=["ticket.created"], secret_sealed=marker,
        )  # fmt: skip
        staff = [
            EmailAssignment(tenant_id=t, account_id=mailbox.id, user_id=tenant.users[r].id, **v)
            for r, v in STAFF.items()
            if staffed
        ]
        rows: dict[str, object] = {
            "department_id": department,
            "user_id": person,
            "account_id": mailbox,
            "ticket_id": tickets[0],
            "message_id": message,
            "attachment_id": Attachment(
                tenant_id=t, message_id=message.id, filename=f"{marker}.pdf",
                content_type="application/pdf", size=len(marker),
                blob_ref=await self.blobs.put(f"%PDF {marker}".encode()),
            ),
            "outbound_id": OutboundMessage(
                id=uuid.uuid4(), tenant_id=t, account_id=mailbox.id, ticket_id=tickets[0].id,
                kind="reply", status="scheduled", subject=marker, requested_by=admin.id,
                next_attempt_at=now.replace(year=now.year + 1), created_at=now, updated_at=now,
            ),
            "notification_id": Notification(
                tenant_id=t, user_id=tenant.users[notified].id if notified else person.id,
                kind="ticket.assigned",
                ticket_id=tickets[0].id, title=marker, source_event_id=uuid.uuid4(),
            ),
            "subscription_id": subscription,
            "delivery_id": WebhookDelivery(
                tenant_id=t, subscription_id=subscription.id, event_id=uuid.uuid4(),
                event_type="ticket.created", payload={"subject": marker}, status="failed",
                last_error=marker,
            ),
            "assignment_id": EmailAssignment(
                tenant_id=t, account_id=mailbox.id, user_id=person.id,
                role=AssignmentRole.BACKUP, notes=marker,
            ),
            "policy_id": SlaPolicy(tenant_id=t, name=marker, first_response_minutes=60),
            "domain_id": InboundDomain(tenant_id=t, domain=f"{unique}.example"),
            "address_id": InboundAddress(
                tenant_id=t, address=f"{unique}@in.example", account_id=mailbox.id
            ),
            "mailbox_id": ImapMailbox(
                tenant_id=t, account_id=mailbox.id, host=f"{marker}.example", username=marker,
                password_ciphertext=marker,
            ),
            "token_id": ApiToken(
                tenant_id=t, name=marker, prefix=f"pdk_{marker[:8]}", token_hash=unique,
                scopes=["tickets:read"], acts_as_user_id=person.id,
            ),
        }  # fmt: skip
        # nothing listens on the discard port: an SMTP test fails at once, with an answer
        smtp = SmtpServer(
            tenant_id=t, account_id=mailbox.id, host="127.0.0.1", port=9, security="none",
            timeout_seconds=2,
        )  # fmt: skip
        # the primary manages the department: its figures are theirs to see
        manager = DepartmentManager(tenant_id=t, department_id=department.id, user_id=person.id)
        if staffed:
            manager.user_id = tenant.users["primary"].id
        async with self.sessions() as session, session.begin():
            for batch in (
                [department, person, mailbox, subscription],
                [*tickets, *staff, manager, smtp],
                [row for name, row in rows.items() if name != "attachment_id"],
                [rows["attachment_id"]],
            ):
                session.add_all(batch)
                await session.flush()
        ids = {name: row.id for name, row in rows.items()}  # type: ignore[attr-defined]  # every table here has an id
        return Targets(t, marker, ids, tickets[1].id)

    def user(self, tenant_id: uuid.UUID, name: str, **values: Any) -> User:
        return User(
            tenant_id=tenant_id, email=f"{name}-{uuid.uuid4().hex[:6]}@staff.test",
            password_hash=self.password_hash, full_name=name.title(), **values,
        )  # fmt: skip

    def ticket(
        self, tenant: Tenancy, account_id: uuid.UUID, marker: str, **values: object
    ) -> Ticket:
        tenant.numbers += 1
        return Ticket(
            tenant_id=tenant.id, number=tenant.numbers, account_id=account_id, subject=marker,
            customer_email=f"{marker}@client.test", customer_name=marker, message_count=1,
        )  # fmt: skip

    async def api_token(self, role: str, scopes: list[ApiScope]) -> str:
        """A working API token of A acting as `role`'s user with `scopes`."""
        return await self.api_token_for(self.a.users[role].id, scopes)

    async def api_token_for(self, user_id: uuid.UUID, scopes: list[ApiScope]) -> str:
        """A working API token of A acting as the user `user_id` with `scopes`."""
        token = new_api_token()
        row = ApiToken(
            tenant_id=self.a.id, name="probe", prefix=token[:12], token_hash=hash_token(token),
            scopes=[str(s) for s in scopes], acts_as_user_id=user_id,
        )  # fmt: skip
        async with self.sessions() as session, session.begin():
            session.add(row)
        return token


async def build_world(
    sessions: Sessions, client: httpx.AsyncClient, blobs: BlobStore
) -> AccessWorld:
    """The two tenants and their staff, each of A's logged in."""
    suffix = uuid.uuid4().hex[:8]
    tenants = [Tenant(name=n, slug=f"{n}-{suffix}") for n in ("access-a", "access-b")]
    world = AccessWorld(
        suffix, sessions, PasswordHasher().hash(PASSWORD), blobs,
        Tenancy(tenants[0].id, {}), Tenancy(tenants[1].id, {}),
    )  # fmt: skip
    for role in ROLES:
        is_admin = {"role": TenantRole.ADMIN} if role == "admin" else {}
        world.a.users[role] = world.user(world.a.id, role, **is_admin)
    world.b.users = {
        "admin": world.user(world.b.id, "admin", role=TenantRole.ADMIN),
        "outsider": world.user(world.b.id, "outsider"),
    }
    async with sessions() as session, session.begin():
        session.add_all(tenants)
        await session.flush()
        session.add_all([*world.a.users.values(), *world.b.users.values()])
    for role, user in world.a.users.items():
        world.tokens[role] = (await session_of(client, user.email))["access_token"]
    return world
