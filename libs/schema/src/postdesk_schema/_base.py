"""Column helpers shared by the table modules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import Text
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def id_field() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def timestamp(*, nullable: bool = False, index: bool = False, default_now: bool = True) -> Any:
    return Field(
        default_factory=utcnow if default_now else None,
        sa_column=Column(
            DateTime(timezone=True),
            nullable=nullable,
            index=index,
            server_default=text("now()") if default_now and not nullable else None,
        ),
    )


def optional_timestamp() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


def jsonb(default_factory: Any = dict) -> Any:
    return Field(
        default_factory=default_factory,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )


def jsonb_list() -> Any:
    return Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )


def text_array() -> Any:
    return Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    )
