"""Factories for the notifier's tests: tenants, people, assignments, tickets and events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from postdesk_contracts import (
    Envelope,
    EventType,
    SlaBreached,
    SlaTarget,
    SlaWarning,
    TicketAssigned,
    TicketMessageAdded,
    TicketNoteAdded,
    new_envelope,
)
from postdesk_notifier.service import NotifyOutcome, consume
from postdesk_runtime import Sessions
from postdesk_schema import (
    AssignmentRole,
    Department,
    DepartmentManager,
    EmailAccount,
    EmailAssignment,
    Notification,
    Tenant,
    Ticket,
    User,
)
from sqlalchemy import select
from sqlmodel import col

# Open only at night on Sundays: outside working hours at AT_WORK_TIME (a Wednesday noon).
NEVER_NOW = {"sun": [["02:00", "03:00"]]}
AT_WORK_TIME = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class Seed:
    tenant: Tenant
    user: User
    account: EmailAccount
    ticket: Ticket


async def _add(sessions: Sessions, *rows: Any) -> None:
    async with sessions() as session, session.begin():
        for row in rows:
            session.add(row)
            await session.flush()


async def seed_ticket(
    sessions: Sessions, *, user_active: bool = True, subject: str = "Printer on fire"
) -> Seed:
    """A tenant with one user, one account and ticket #7 assigned to that user."""
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
    await _add(sessions, tenant, user, account, ticket)
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


@dataclass
class Desk:
    """A tenant with one account and the people and tickets a test adds to it."""

    sessions: Sessions
    tenant: Tenant
    account: EmailAccount
    tickets: int = 0
    users: list[User] = field(default_factory=list)

    @classmethod
    async def create(cls, sessions: Sessions, **tenant_fields: Any) -> Desk:
        suffix = uuid.uuid4().hex[:10]
        tenant = Tenant(name=f"Desk {suffix}", slug=f"desk-{suffix}", **tenant_fields)
        account = EmailAccount(tenant_id=tenant.id, address=f"cs-{suffix}@desk.example")
        await _add(sessions, tenant, account)
        return cls(sessions, tenant, account)

    async def user(self, name: str = "Ana Lopez", **fields: Any) -> User:
        suffix = uuid.uuid4().hex[:10]
        user = User(
            tenant_id=self.tenant.id,
            email=fields.pop("email", f"{name.split()[0].lower()}-{suffix}@staff.example"),
            password_hash="x",
            full_name=name,
            **fields,
        )
        await _add(self.sessions, user)
        self.users.append(user)
        return user

    async def assign(
        self, user: User, role: str = "primary", account: EmailAccount | None = None, **fields: Any
    ) -> EmailAssignment:
        assignment = EmailAssignment(
            tenant_id=self.tenant.id,
            account_id=(account or self.account).id,
            user_id=user.id,
            role=AssignmentRole(role),
            **fields,
        )
        await _add(self.sessions, assignment)
        return assignment

    async def handler(self, name: str, role: str = "primary", **assignment: Any) -> User:
        """A user with an assignment on the desk's account."""
        user = await self.user(name)
        await self.assign(user, role, **assignment)
        return user

    async def account2(self) -> EmailAccount:
        account = EmailAccount(
            tenant_id=self.tenant.id, address=f"other-{uuid.uuid4().hex[:10]}@desk.example"
        )
        await _add(self.sessions, account)
        return account

    async def department(self, *managers: User) -> Department:
        department = Department(tenant_id=self.tenant.id, name=f"dept-{uuid.uuid4().hex[:8]}")
        await _add(self.sessions, department)
        await _add(
            self.sessions,
            *(
                DepartmentManager(
                    department_id=department.id, user_id=m.id, tenant_id=self.tenant.id
                )
                for m in managers
            ),
        )
        return department

    async def ticket(
        self,
        assignee: User | None = None,
        *,
        subject: str = "Kettle never arrived",
        department: Department | None = None,
    ) -> Ticket:
        self.tickets += 1
        ticket = Ticket(
            tenant_id=self.tenant.id,
            number=self.tickets,
            account_id=self.account.id,
            department_id=department.id if department else None,
            subject=subject,
            customer_email="carol@customer.example",
            assignee_id=assignee.id if assignee else None,
            assignment_rule="primary" if assignee else "",
            message_count=1,
        )
        await _add(self.sessions, ticket)
        return ticket

    def message_added(
        self, ticket: Ticket, *, at: datetime = AT_WORK_TIME, **overrides: Any
    ) -> Envelope[TicketMessageAdded]:
        """A customer's reply on `ticket`, at `at`; override payload fields."""
        payload = TicketMessageAdded.model_validate(
            {
                "ticket_id": ticket.id,
                "message_id": uuid.uuid4(),
                "account_id": ticket.account_id,
                "direction": "inbound",
                "match_rule": "in-reply-to",
                "sender_email": "carol@customer.example",
                **overrides,
            }
        )
        event = new_envelope(EventType.TICKET_MESSAGE_ADDED, payload, tenant_id=self.tenant.id)
        return event.model_copy(update={"occurred_at": at})

    def note_added(
        self, ticket: Ticket, author: User, *mentioned: uuid.UUID, excerpt: str = "@ana look"
    ) -> Envelope[TicketNoteAdded]:
        payload = TicketNoteAdded(
            ticket_id=ticket.id,
            account_id=ticket.account_id,
            note_id=uuid.uuid4(),
            author_id=author.id,
            mentioned_user_ids=list(mentioned),
            excerpt=excerpt,
        )
        return new_envelope(EventType.TICKET_NOTE_ADDED, payload, tenant_id=self.tenant.id)

    def assigned(
        self, ticket: Ticket, assignee: User, **overrides: Any
    ) -> Envelope[TicketAssigned]:
        payload = TicketAssigned.model_validate(
            {
                "ticket_id": ticket.id,
                "account_id": ticket.account_id,
                "assignee_id": assignee.id,
                "rule": "agent",
                **overrides,
            }
        )
        return new_envelope(EventType.TICKET_ASSIGNED, payload, tenant_id=self.tenant.id)

    def sla(
        self,
        ticket: Ticket,
        *,
        breached: bool = False,
        target: SlaTarget = SlaTarget.FIRST_RESPONSE,
        due_at: datetime = AT_WORK_TIME,
    ) -> Envelope[SlaWarning] | Envelope[SlaBreached]:
        common: dict[str, Any] = {
            "ticket_id": ticket.id,
            "account_id": ticket.account_id,
            "target": target,
            "due_at": due_at,
            "assignee_id": ticket.assignee_id,
        }
        if breached:
            return new_envelope(
                EventType.SLA_BREACHED,
                SlaBreached(breached_at=due_at, **common),
                tenant_id=self.tenant.id,
            )
        return new_envelope(
            EventType.SLA_WARNING, SlaWarning(warned_at=due_at, **common), tenant_id=self.tenant.id
        )


WINDOW = timedelta(seconds=300)


async def consume_in_transaction(
    sessions: Sessions,
    event: Envelope[Any],
    *,
    window: timedelta = WINDOW,
    now: datetime | None = None,
) -> NotifyOutcome:
    """What the subscriber does with `event`, without the broker."""
    async with sessions() as session, session.begin():
        return await consume(session, event, window=window, now=now)


async def notifications_of(sessions: Sessions, *users: User) -> list[Notification]:
    """The notifications of `users`, oldest first."""
    async with sessions() as session:
        found = await session.scalars(
            select(Notification)
            .where(col(Notification.user_id).in_([u.id for u in users]))
            .order_by(col(Notification.created_at), col(Notification.id))
        )
        return list(found.all())
