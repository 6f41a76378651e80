"""SLA policies (owner: gateway admin API and CLI), SLA timers and the log of
automatic mail (owner: router)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from postdesk_schema._base import id_field, jsonb, optional_timestamp, text_array, timestamp


class SlaPolicy(SQLModel, table=True):
    """Targets for tickets of an account, a department or the whole tenant, optionally
    for one priority; the most specific active policy applies."""

    __tablename__ = "sla_policies"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    name: str
    account_id: uuid.UUID | None = Field(default=None, foreign_key="email_accounts.id")
    department_id: uuid.UUID | None = Field(default=None, foreign_key="departments.id")
    priority: str | None = Field(default=None, description="None: every priority")
    first_response_minutes: int | None = None
    resolution_minutes: int | None = None
    business_hours: bool = Field(default=False, description="count only working hours")
    timezone: str = "UTC"
    working_hours: dict[str, Any] = jsonb()
    holidays: list[str] = text_array()
    warning_percent: int = Field(default=80, description="warn when this share has elapsed")
    is_active: bool = True
    created_at: datetime = timestamp()


class SlaTimer(SQLModel, table=True):
    """One target's clock on one ticket: running, paused (pending on the customer) or
    stopped; warned and breached at most once."""

    __tablename__ = "sla_timers"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target"),
        Index(
            "ix_sla_timers_warn_due",
            "warn_at",
            postgresql_where=text("state = 'running' AND warned_at IS NULL"),
        ),
        Index(
            "ix_sla_timers_breach_due",
            "due_at",
            postgresql_where=text("state = 'running' AND breached_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    policy_id: uuid.UUID = Field(foreign_key="sla_policies.id")
    target: str = Field(description="first_response or resolution")
    state: str = Field(default="running", description="running, paused or stopped")
    started_at: datetime = timestamp()
    due_at: datetime = timestamp()
    warn_at: datetime = timestamp()
    paused_at: datetime | None = optional_timestamp()
    remaining_seconds: float | None = Field(
        default=None, description="time left (business or calendar) while paused"
    )
    warned_at: datetime | None = optional_timestamp()
    breached_at: datetime | None = optional_timestamp()
    stopped_at: datetime | None = optional_timestamp()
    updated_at: datetime = timestamp()


class AutomaticMail(SQLModel, table=True):
    """Every automatic mail the router requested (auto-replies): the windows and caps
    that stop mail loops count these rows."""

    __tablename__ = "automatic_mails"
    __table_args__ = (
        Index("ix_automatic_mails_recipient", "tenant_id", "recipient", "created_at"),
        Index("ix_automatic_mails_ticket", "ticket_id", "created_at"),
        Index("ix_automatic_mails_tenant", "tenant_id", "created_at"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    account_id: uuid.UUID = Field(foreign_key="email_accounts.id")
    ticket_id: uuid.UUID | None = Field(default=None, foreign_key="tickets.id")
    recipient: str = Field(description="lower-cased address the automatic mail went to")
    kind: str = Field(default="auto_reply")
    outbound_id: uuid.UUID
    created_at: datetime = timestamp()
