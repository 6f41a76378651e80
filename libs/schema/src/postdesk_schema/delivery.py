"""Notifications (owner: notifier) and outbound mail (owner: outbound)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlalchemy.types import Text
from sqlmodel import Field, SQLModel

from postdesk_schema._base import id_field, jsonb_list, optional_timestamp, timestamp


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("source_event_id", "user_id", "kind"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    user_id: uuid.UUID = Field(foreign_key="users.id")
    kind: str
    ticket_id: uuid.UUID | None = Field(default=None, foreign_key="tickets.id")
    title: str
    body: str = ""
    source_event_id: uuid.UUID
    read_at: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()


class OutboundMessage(SQLModel, table=True):
    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_tenant_status", "tenant_id", "status"),)

    id: uuid.UUID = Field(primary_key=True, description="the outbound_id of outbound.requested")
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    account_id: uuid.UUID = Field(foreign_key="email_accounts.id")
    ticket_id: uuid.UUID | None = Field(default=None, foreign_key="tickets.id")
    kind: str
    status: str = Field(description="queued, sent or failed")
    to: list[dict[str, Any]] = jsonb_list()
    subject: str = ""
    message_id_header: str | None = None
    failure_reason: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    attempts: int = 0
    sent_at: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
