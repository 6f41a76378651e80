"""Admin: the tenant's email processing log and audit log, newest first, keyset-paged.

Both are read-only here: the audit log is append-only (the gateway only inserts
into it, through `db.audit`), and the processing log belongs to the pipeline
services (ADR 0002). Pages follow (created_at DESC, id DESC), which the
(tenant_id, created_at) indexes of both tables serve.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from postdesk_contracts.api_admin import (
    AuditEntryView,
    AuditLogList,
    ProcessingLogList,
    ProcessingLogView,
)
from postdesk_schema import AuditLog, EmailProcessingLog
from sqlalchemy import ColumnElement, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from postdesk_gateway.admin_common import plain_filter, require_admin
from postdesk_gateway.domain import (
    CurrentUser,
    InvalidRequestError,
    KeyCursor,
    decode_key,
    encode_key,
)

Row = TypeVar("Row", bound=SQLModel)


@dataclass(frozen=True)
class TimeRange:
    since: datetime | None
    until: datetime | None

    def checked(self) -> TimeRange:
        for value in (self.since, self.until):
            if value is not None and value.tzinfo is None:
                raise InvalidRequestError("since and until need a timezone offset")
        if self.since and self.until and self.since > self.until:
            raise InvalidRequestError("since is after until")
        return self


@dataclass(frozen=True)
class AuditFilter:
    times: TimeRange
    actor_user_id: uuid.UUID | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None


@dataclass(frozen=True)
class ProcessingFilter:
    times: TimeRange
    stage: str | None = None
    status: str | None = None
    message_id: str | None = None
    event_id: uuid.UUID | None = None


async def _page(
    session: AsyncSession,
    table: type[Row],
    conditions: list[ColumnElement[bool]],
    times: TimeRange,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row], str | None]:
    created_at, row_id = col(getattr(table, "created_at")), col(getattr(table, "id"))  # noqa: B009  # both tables have them
    times = times.checked()
    if times.since is not None:
        conditions.append(created_at >= times.since)
    if times.until is not None:
        conditions.append(created_at < times.until)
    if cursor is not None:
        after = decode_key(cursor)
        conditions.append(tuple_(created_at, row_id) < tuple_(after.at, after.id))
    rows = list(
        (
            await session.scalars(
                select(table)
                .where(*conditions)
                .order_by(created_at.desc(), row_id.desc())
                .limit(limit + 1)
            )
        ).all()
    )
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, encode_key(KeyCursor(getattr(last, "created_at"), getattr(last, "id")))  # noqa: B009


async def audit_log(
    session: AsyncSession, user: CurrentUser, where: AuditFilter, *, cursor: str | None, limit: int
) -> AuditLogList:
    require_admin(user)
    for name in ("action", "object_type", "object_id"):
        plain_filter(getattr(where, name), name)
    conditions: list[ColumnElement[bool]] = [col(AuditLog.tenant_id) == user.tenant_id]
    if where.actor_user_id is not None:
        conditions.append(col(AuditLog.actor_user_id) == where.actor_user_id)
    if where.action is not None:
        conditions.append(col(AuditLog.action) == where.action)
    if where.object_type is not None:
        conditions.append(col(AuditLog.object_type) == where.object_type)
    if where.object_id is not None:
        conditions.append(col(AuditLog.object_id) == where.object_id)
    rows, next_cursor = await _page(session, AuditLog, conditions, where.times, cursor, limit)
    return AuditLogList(
        items=[AuditEntryView.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=next_cursor,
    )


async def processing_log(
    session: AsyncSession,
    user: CurrentUser,
    where: ProcessingFilter,
    *,
    cursor: str | None,
    limit: int,
) -> ProcessingLogList:
    require_admin(user)
    for name in ("stage", "status", "message_id"):
        plain_filter(getattr(where, name), name)
    conditions: list[ColumnElement[bool]] = [col(EmailProcessingLog.tenant_id) == user.tenant_id]
    if where.stage is not None:
        conditions.append(col(EmailProcessingLog.stage) == where.stage)
    if where.status is not None:
        conditions.append(col(EmailProcessingLog.status) == where.status)
    if where.message_id is not None:
        conditions.append(col(EmailProcessingLog.message_id_header) == where.message_id)
    if where.event_id is not None:
        conditions.append(col(EmailProcessingLog.event_id) == where.event_id)
    rows, next_cursor = await _page(
        session, EmailProcessingLog, conditions, where.times, cursor, limit
    )
    return ProcessingLogList(
        items=[ProcessingLogView.model_validate(row, from_attributes=True) for row in rows],
        next_cursor=next_cursor,
    )
