"""Notifications and webhook deliveries (owner: notifier) and outbound mail (owner: outbound)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlalchemy.types import Text
from sqlmodel import Field, SQLModel

from postdesk_schema._base import id_field, jsonb, jsonb_list, optional_timestamp, timestamp


class Notification(SQLModel, table=True):
    """One thing a user should hear about, in-app and (per preference) by email.

    Events of one kind on one ticket for one user within the grouping window
    fold into one row (`group_key`, `event_count`) instead of one row each.
    email_status: none (no email wanted), pending (sent at email_due_at, after
    the grouping window, so a burst makes one email), sent, skipped
    (email_skip_reason says why, e.g. the address would loop into postdesk).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("source_event_id", "user_id", "kind"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_user_updated", "user_id", "updated_at"),
        Index(
            "ix_notifications_open_group",
            "user_id",
            "group_key",
            postgresql_where=text("read_at IS NULL"),
        ),
        Index(
            "ix_notifications_email_due",
            "email_due_at",
            postgresql_where=text("email_status = 'pending'"),
        ),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    user_id: uuid.UUID = Field(foreign_key="users.id")
    kind: str
    ticket_id: uuid.UUID | None = Field(default=None, foreign_key="tickets.id")
    title: str
    body: str = ""
    source_event_id: uuid.UUID
    actor_id: uuid.UUID | None = Field(default=None, description="who caused it, if a person")
    group_key: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    event_count: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    data: dict[str, Any] = jsonb()
    email_status: str = Field(
        default="none", sa_column=Column(Text, nullable=False, server_default="none")
    )
    email_due_at: datetime | None = optional_timestamp()
    email_outbound_id: uuid.UUID | None = None
    email_skip_reason: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    read_at: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class NotificationDigest(SQLModel, table=True):
    """A user's daily digest, once per local day (owner: notifier)."""

    __tablename__ = "notification_digests"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True)
    local_date: date = Field(primary_key=True)
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    outbound_id: uuid.UUID | None = None
    summary: dict[str, Any] = jsonb()
    created_at: datetime = timestamp()


class WebhookSubscription(SQLModel, table=True):
    """A tenant's URL that receives signed POSTs of the event types it names (owner: gateway
    admin API; the notifier reads it)."""

    __tablename__ = "webhook_subscriptions"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", index=True)
    url: str
    description: str = ""
    event_types: list[str] = jsonb_list()
    secret_sealed: str = Field(description="HMAC secret, encrypted with the keyring")
    is_active: bool = True
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription, from fan-out to its last attempt (owner: notifier).

    status: pending (due at next_attempt_at), retrying (a failed attempt; due
    again at next_attempt_at), delivering (claimed by a worker), delivered,
    failed (gave up after the attempt limit or refused by the address guard).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'retrying', 'delivering')"),
        ),
        Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscriptions.id")
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any] = jsonb()
    status: str = Field(default="pending", sa_type=Text)
    attempts: int = 0
    next_attempt_at: datetime = timestamp()
    claimed_at: datetime | None = optional_timestamp()
    last_attempt_at: datetime | None = optional_timestamp()
    response_status: int | None = None
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    attempt_log: list[dict[str, Any]] = jsonb_list()
    delivered_at: datetime | None = optional_timestamp()
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
