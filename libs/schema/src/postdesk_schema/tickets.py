"""Tickets and the messages in them. Owner: router (gateway writes replies' state later)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, Computed, Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.types import Text
from sqlmodel import Field, SQLModel

from postdesk_schema._base import (
    id_field,
    jsonb,
    jsonb_list,
    optional_timestamp,
    text_array,
    timestamp,
)


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index(
            "ix_tickets_account_inbox",
            "tenant_id",
            "account_id",
            "status",
            text("last_message_at DESC"),
        ),
        Index(
            "ix_tickets_assignee_inbox",
            "tenant_id",
            "assignee_id",
            "status",
            text("last_message_at DESC"),
        ),
        Index(
            "ix_tickets_department_inbox",
            "tenant_id",
            "department_id",
            "status",
            text("last_message_at DESC"),
        ),
        Index("ix_tickets_tags", "tags", postgresql_using="gin"),
        Index("ix_tickets_search", "search_vector", postgresql_using="gin"),
        # The inbox list's default order over every status, and its keyset pages.
        Index(
            "ix_tickets_tenant_activity",
            "tenant_id",
            text("last_message_at DESC"),
            text("id DESC"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_tickets_assignee_activity",
            "tenant_id",
            "assignee_id",
            text("last_message_at DESC"),
            text("id DESC"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    number: int = Field(sa_type=BigInteger)
    account_id: uuid.UUID = Field(foreign_key="email_accounts.id")
    department_id: uuid.UUID | None = Field(default=None, foreign_key="departments.id")
    subject: str
    customer_email: str
    customer_name: str = ""
    status: TicketStatus = Field(default=TicketStatus.OPEN, sa_type=Text)
    priority: TicketPriority = Field(default=TicketPriority.NORMAL, sa_type=Text)
    assignee_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    assignment_rule: str = ""
    handled_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    first_responded_at: datetime | None = optional_timestamp()
    resolved_at: datetime | None = optional_timestamp()
    response_minutes: int | None = None
    resolution_minutes: int | None = None
    tags: list[str] = text_array()
    sentiment: str | None = None
    merged_into_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="tickets.id",
        description="set when this ticket was merged into another; its messages moved there",
    )
    linked_ticket_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="tickets.id",
        description="the ticket a stranger's mail referred to when it could not join it",
    )
    message_count: int = 0
    reopened_count: int = 0
    last_customer_message_at: datetime | None = optional_timestamp()
    last_agent_reply_at: datetime | None = optional_timestamp()
    reassigned_at: datetime | None = optional_timestamp()
    closed_at: datetime | None = optional_timestamp()
    deleted_at: datetime | None = optional_timestamp()
    deleted_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    last_message_at: datetime = timestamp()
    search_vector: str | None = Field(
        default=None,
        sa_column=Column(
            TSVECTOR,
            Computed(
                "to_tsvector('simple'::regconfig, coalesce(subject, '') || ' ' || "
                "coalesce(customer_email, '') || ' ' || coalesce(customer_name, ''))",
                persisted=True,
            ),
        ),
    )


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "message_id_header"),
        Index("ix_messages_ticket_created", "ticket_id", "created_at"),
        Index("ix_messages_search", "search_vector", postgresql_using="gin"),
        # fastupdate off: lookups never read a pending list (migration 0014)
        Index(
            "ix_messages_references",
            "references",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
        Index(
            "ix_messages_in_reply_to",
            "in_reply_to",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
        # A member's search: meets the GIN index in one bitmap (gateway inbox_search).
        Index("ix_messages_account", "account_id"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    account_id: uuid.UUID = Field(foreign_key="email_accounts.id")
    direction: str = Field(default="inbound", description="inbound or outbound")
    message_id_header: str
    in_reply_to: list[str] = text_array()
    references: list[str] = text_array()
    subject: str = ""
    from_email: str = ""
    from_name: str = ""
    to: list[dict[str, Any]] = jsonb_list()
    cc: list[dict[str, Any]] = jsonb_list()
    text_body: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    html_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reply_text: str = Field(
        default="",
        sa_column=Column(Text, nullable=False, server_default=""),
        description="the new text of a reply (the parser's cut: no quoted mail, no signature)",
    )
    text_preview: str = ""
    raw_blob_ref: str = ""
    sha256: str = ""
    classification: dict[str, Any] = jsonb()
    match_rule: str = Field(default="", description="why this message joined its ticket")
    outbound_id: uuid.UUID | None = Field(
        default=None, description="outbound.requested id of a message we send"
    )
    delivery_status: str = Field(default="", description="outbound: requested, failed, bounced")
    delivery_failure: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    sent_at: datetime | None = optional_timestamp()
    received_at: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()
    search_vector: str | None = Field(
        default=None,
        sa_column=Column(
            TSVECTOR,
            Computed(
                "to_tsvector('simple'::regconfig, coalesce(subject, '') || ' ' || "
                "coalesce(from_email, '') || ' ' || coalesce(from_name, '') || ' ' || "
                "left(coalesce(text_body, ''), 100000))",
                persisted=True,
            ),
        ),
    )


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    message_id: uuid.UUID = Field(foreign_key="messages.id", index=True)
    filename: str
    content_type: str
    size: int
    blob_ref: str
    content_id: str | None = None
    inline: bool = False
    created_at: datetime = timestamp()


class TicketHistory(SQLModel, table=True):
    """What happened to a ticket and why: which rule matched each message, assigned,
    reopened, auto-replied, breached. Owner: router (gateway appends agent actions)."""

    __tablename__ = "ticket_history"
    __table_args__ = (Index("ix_ticket_history_ticket_created", "ticket_id", "created_at"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    message_id: uuid.UUID | None = Field(default=None, foreign_key="messages.id")
    kind: str = Field(description="matched, assigned, reopened, auto_reply, sla, bounce, ...")
    rule: str = ""
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    actor_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    event_id: uuid.UUID | None = None
    created_at: datetime = timestamp()


class TicketNote(SQLModel, table=True):
    """An internal note on a ticket, never sent to the customer; @mentions notify the users
    it names (owner: gateway)."""

    __tablename__ = "ticket_notes"
    __table_args__ = (Index("ix_ticket_notes_ticket_created", "ticket_id", "created_at"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id")
    author_id: uuid.UUID = Field(foreign_key="users.id")
    body: str = Field(sa_column=Column(Text, nullable=False))
    mentioned_user_ids: list[str] = jsonb_list()
    created_at: datetime = timestamp()


class TicketRead(SQLModel, table=True):
    """When a user last opened a ticket: it is unread for them while its last_message_at is
    later (owner: gateway)."""

    __tablename__ = "ticket_reads"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True)
    ticket_id: uuid.UUID = Field(foreign_key="tickets.id", primary_key=True)
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    read_at: datetime = timestamp()
