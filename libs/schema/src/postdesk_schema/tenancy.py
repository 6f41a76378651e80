"""Tenants, their people, mailboxes and who may use which mailbox.

Owner: gateway (admin API) and the CLI's demo/admin commands. The router
(routed mail) and the gateway (composed mail) also take ticket numbers from
`tenants.next_ticket_number`: the gateway inside its transaction
(`take_ticket_number`), the router in a transaction of its own (`TicketNumbers`,
docs/adr/0013-ticket-numbers-outside-the-routing-transaction.md), so numbers are
unique and rising, with a gap where a transaction that took one rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.types import Text
from sqlmodel import Field, SQLModel, col

from postdesk_schema._base import id_field, jsonb, jsonb_list, optional_timestamp, timestamp


class TenantRole(StrEnum):
    """A user's role across the tenant; mailbox rights come from assignments."""

    ADMIN = "admin"
    MEMBER = "member"


class AssignmentRole(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"
    VIEWER = "viewer"


class AccountKind(StrEnum):
    SHARED = "shared"
    PERSONAL = "personal"


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: uuid.UUID = id_field()
    name: str
    slug: str = Field(unique=True)
    next_ticket_number: int = Field(default=1)
    settings: dict[str, Any] = jsonb()
    created_at: datetime = timestamp()


class Department(SQLModel, table=True):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    name: str
    description: str = ""
    routing_strategy: str = Field(
        default="primary", description="primary, round_robin, least_open or priority"
    )
    round_robin_last_user_id: uuid.UUID | None = Field(
        default=None,
        description="who round-robin assigned last; the next pick follows them "
        "(no foreign key: users already refer to departments)",
    )
    created_at: datetime = timestamp()


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        # who on the staff wrote this mail: the notifier's and router's lookups by address
        Index("ix_users_tenant_lower_email", "tenant_id", text("lower(email)")),
        Index("ix_users_tenant_lower_company_email", "tenant_id", text("lower(company_email)")),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    email: str = Field(unique=True, description="login, lower-cased")
    password_hash: str
    full_name: str
    role: TenantRole = Field(default=TenantRole.MEMBER, sa_type=Text)
    company_email: str | None = None
    department_id: uuid.UUID | None = Field(default=None, foreign_key="departments.id")
    email_signature: str = ""
    job_title: str = ""
    timezone: str = "UTC"
    notification_preferences: dict[str, Any] = jsonb()
    working_hours: dict[str, Any] = jsonb()
    is_active: bool = True
    password_changed_at: datetime | None = optional_timestamp()
    failed_login_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locked_until: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()


class EmailAccount(SQLModel, table=True):
    """A mailbox postdesk receives for: shared (cs@) or personal (john@)."""

    __tablename__ = "email_accounts"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    address: str = Field(unique=True, description="lower-cased; unique across tenants")
    display_name: str = ""
    kind: AccountKind = Field(default=AccountKind.SHARED, sa_type=Text)
    department_id: uuid.UUID | None = Field(default=None, foreign_key="departments.id")
    owner_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    signature: str = ""
    auto_reply_enabled: bool = False
    auto_reply_message: str = ""
    auto_reply_subject: str = Field(default="", description="empty: 'Re: <subject>'")
    auto_reply_schedule: str = Field(default="always", description="always or outside_hours")
    auto_reply_window_minutes: int = Field(
        default=1440, description="at most one auto-reply per sender in this window"
    )
    timezone: str = "UTC"
    working_hours: dict[str, Any] = jsonb()
    reopen_policy: str = Field(
        default="reopen", description="reply to a closed ticket: reopen or follow_up"
    )
    subject_match_days: int | None = Field(
        default=None, description="match same sender + subject within N days; None is off"
    )
    reassign_after_minutes: int | None = Field(
        default=None, description="reassign an unanswered ticket after N minutes; None is off"
    )
    is_active: bool = True
    created_at: datetime = timestamp()


class EmailAssignment(SQLModel, table=True):
    """Who may use a mailbox, in which role, with which rights."""

    __tablename__ = "email_assignments"
    __table_args__ = (
        UniqueConstraint("account_id", "user_id"),
        Index("ix_email_assignments_user_active", "user_id", "is_active"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    account_id: uuid.UUID = Field(foreign_key="email_accounts.id")
    user_id: uuid.UUID = Field(foreign_key="users.id")
    role: AssignmentRole = Field(sa_type=Text)
    can_send: bool = True
    can_receive: bool = True
    can_delete: bool = False
    can_assign_others: bool = False
    notify_on_receive: bool = True
    notify_on_reply: bool = True
    notify_on_mention: bool = True
    priority: int = Field(default=0, description="lower is asked first among backups")
    is_active: bool = True
    assigned_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = timestamp()


async def take_ticket_number(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Take the tenant's next ticket number in the caller's transaction. The tenant row stays
    locked until that transaction ends: every other taker of the tenant waits that long."""
    number = (await session.execute(_TAKE_TICKET_NUMBER, {"tenant_id": tenant_id})).scalar_one()
    return int(number)


TakeTicketNumber = Callable[[AsyncSession, uuid.UUID], Awaitable[int]]


class TicketNumbers:
    """Ticket numbers taken each in a transaction of its own, on `engine` (from
    `postdesk_runtime.make_counter_engine`): the tenant row is locked for one statement
    instead of for the whole transaction that opens the ticket, which serialised every new
    ticket of a tenant. A caller's transaction that rolls back leaves its number unused."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, session: AsyncSession, tenant_id: uuid.UUID) -> int:
        """The next number of the tenant, committed already (`session` is not used)."""
        async with self._engine.connect() as conn:
            number = (
                await conn.execute(_TAKE_TICKET_NUMBER, {"tenant_id": tenant_id})
            ).scalar_one()
        return int(number)


_TAKE_TICKET_NUMBER = (
    update(Tenant)
    .where(col(Tenant.id) == bindparam("tenant_id"))
    .values(next_ticket_number=col(Tenant.next_ticket_number) + 1)
    .returning(col(Tenant.next_ticket_number) - 1)
)


class DepartmentManager(SQLModel, table=True):
    """A user who manages a department: hears about its SLA warnings and breaches."""

    __tablename__ = "department_managers"

    department_id: uuid.UUID = Field(foreign_key="departments.id", primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True)
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    created_at: datetime = timestamp()


class RefreshToken(SQLModel, table=True):
    """One refresh token of a login session (owner: gateway). Rotation: using a token marks it
    used and issues its successor in the same family; presenting a used token again revokes
    the whole family (it was stolen or replayed). Only a hash of the token is stored."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_user", "user_id", "revoked_at"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    user_id: uuid.UUID = Field(foreign_key="users.id")
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(unique=True)
    issued_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False)
    used_at: datetime | None = optional_timestamp()
    revoked_at: datetime | None = optional_timestamp()
    ip: str = ""
    user_agent: str = ""


class ApiToken(SQLModel, table=True):
    """A token another system uses, with scopes (owner: gateway admin API). Only a hash is
    stored; `prefix` lets admins recognise it."""

    __tablename__ = "api_tokens"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    name: str
    prefix: str
    token_hash: str = Field(unique=True)
    scopes: list[str] = jsonb_list()
    acts_as_user_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", description="whose mailbox rights it has"
    )
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = timestamp()
    last_used_at: datetime | None = optional_timestamp()
    expires_at: datetime | None = optional_timestamp()
    revoked_at: datetime | None = optional_timestamp()
