"""Notifications (owner: notifier) and outbound mail (owner: outbound)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlalchemy.types import Text
from sqlmodel import Field, SQLModel

from postdesk_schema._base import id_field, jsonb, jsonb_list, optional_timestamp, timestamp


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
    """One outbound.requested, from its recording to its last SMTP attempt.

    status: scheduled (waiting for send_after: undo window or a scheduled
    send), sending (claimed; an SMTP transaction may be under way), retrying
    (a temporary failure; next_attempt_at says when), sent, failed
    (permanent), cancelled (undone before it was sent), dead (gave up after
    the last retry; attempt_log keeps the history).
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_messages_tenant_status", "tenant_id", "status"),
        Index(
            "ix_outbound_messages_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('scheduled', 'retrying')"),
        ),
        # the quota windows count sent mail by sent_at, per user, account and tenant
        Index(
            "ix_outbound_messages_sent_by_user",
            "requested_by",
            "sent_at",
            postgresql_where=text("status = 'sent'"),
        ),
        Index(
            "ix_outbound_messages_sent_by_account",
            "account_id",
            "sent_at",
            postgresql_where=text("status = 'sent'"),
        ),
        Index(
            "ix_outbound_messages_sent_by_tenant",
            "tenant_id",
            "sent_at",
            postgresql_where=text("status = 'sent'"),
        ),
        # recovery looks for claims older than the lease
        Index(
            "ix_outbound_messages_claimed",
            "claimed_at",
            postgresql_where=text("status = 'sending'"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True, description="the outbound_id of outbound.requested")
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    account_id: uuid.UUID = Field(foreign_key="email_accounts.id")
    ticket_id: uuid.UUID | None = Field(default=None, foreign_key="tickets.id", index=True)
    kind: str
    status: str = Field(description="scheduled, sending, retrying, sent, failed, cancelled, dead")
    to: list[dict[str, Any]] = jsonb_list()
    subject: str = ""
    message_id_header: str | None = None
    failure_reason: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    attempts: int = 0
    request: dict[str, Any] = jsonb()
    requested_by: uuid.UUID | None = None
    next_attempt_at: datetime | None = optional_timestamp()
    claimed_at: datetime | None = optional_timestamp()
    transmitting_at: datetime | None = optional_timestamp()
    attempt_log: list[dict[str, Any]] = jsonb_list()
    smtp_response: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    raw_blob_ref: str | None = None
    sent_at: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class SmtpServer(SQLModel, table=True):
    """The SMTP server a tenant (account_id None) or one account sends through.

    Owner: gateway (admin API) and the CLI; outbound reads it. The password
    is sealed with the keyring (purpose b"smtp-password"), never stored plain.
    """

    __tablename__ = "smtp_servers"
    __table_args__ = (
        Index(
            "ux_smtp_servers_tenant_default",
            "tenant_id",
            unique=True,
            postgresql_where=text("account_id IS NULL"),
        ),
        Index(
            "ux_smtp_servers_account",
            "account_id",
            unique=True,
            postgresql_where=text("account_id IS NOT NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    account_id: uuid.UUID | None = Field(default=None, foreign_key="email_accounts.id")
    host: str
    port: int = 587
    security: str = Field(default="starttls", description="tls (implicit), starttls or none")
    username: str = ""
    password_sealed: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    from_domain: str = Field(default="", description="domain of our Message-IDs; '' = account's")
    timeout_seconds: float = 30.0
    is_active: bool = True
    last_test_at: datetime | None = optional_timestamp()
    last_test_result: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
