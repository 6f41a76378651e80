"""Processing log and audit log: append-only.

`email_processing_logs` has one row per (stage, dedupe key); each pipeline
service appends the rows of its own stage and no others (ADR 0002).
`audit_log` is written by the gateway only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlalchemy.types import Text
from sqlmodel import Field, SQLModel

from postdesk_schema._base import id_field, jsonb, timestamp


class EmailProcessingLog(SQLModel, table=True):
    __tablename__ = "email_processing_logs"
    __table_args__ = (
        UniqueConstraint("stage", "dedupe_key"),
        Index("ix_email_processing_logs_tenant_created", "tenant_id", "created_at"),
        Index("ix_email_processing_logs_sha256", "sha256"),
    )

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID | None = Field(default=None, foreign_key="tenants.id")
    stage: str = Field(description="ingest, parser, router, ...")
    dedupe_key: str
    status: str = Field(description="stored, published, parsed, rejected, routed, duplicate")
    sha256: str
    raw_blob_ref: str
    message_id_header: str | None = None
    event_id: uuid.UUID | None = None
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_created", "tenant_id", "created_at"),)

    id: uuid.UUID = id_field()
    tenant_id: uuid.UUID = Field(foreign_key="tenants.id")
    actor_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    action: str
    object_type: str
    object_id: str
    ip: str = ""
    detail: dict[str, Any] = jsonb()
    created_at: datetime = timestamp()
