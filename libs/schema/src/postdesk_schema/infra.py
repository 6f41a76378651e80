"""Transactional outbox and consumer inbox; every row names the service that owns it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, text
from sqlalchemy.types import Text
from sqlmodel import Field, SQLModel

from postdesk_schema._base import jsonb, optional_timestamp, timestamp


class OutboxEvent(SQLModel, table=True):
    """An event committed with the state change that caused it, waiting for its relay."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "service",
            "created_at",
            postgresql_where=text("published_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True, description="the event id")
    service: str
    routing_key: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    headers: dict[str, Any] = jsonb()
    created_at: datetime = timestamp()
    published_at: datetime | None = optional_timestamp()


class ProcessedEvent(SQLModel, table=True):
    """A consumed event whose effects are committed: the consumer's idempotency key."""

    __tablename__ = "processed_events"

    consumer: str = Field(primary_key=True)
    event_id: uuid.UUID = Field(primary_key=True)
    processed_at: datetime = timestamp()
