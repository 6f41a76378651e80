"""Admin: the processing log and the audit log (read-only). Tenant admins only (403)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from postdesk_contracts.api_admin import AuditLogList, ProcessingLogList
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import admin_logs
from postdesk_gateway.admin_logs import AuditFilter, ProcessingFilter, TimeRange
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Text = Annotated[str | None, QueryParameter(max_length=500)]


class LogAdminController(Controller):
    path = "/admin"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get("/audit-log", responses=problems(400, 401, 403))
    async def audit_log(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        actor_user_id: FromQuery[uuid.UUID | None] = None,
        action: Text = None,
        object_type: Text = None,
        object_id: Text = None,
        limit: Limit = 50,
        cursor: FromQuery[str | None] = None,
    ) -> AuditLogList:
        """Who did what, when, from where: newest first, `since` inclusive, `until`
        exclusive. `object_id` finds the rows of one ticket, message, user, mailbox, ..."""
        where = AuditFilter(
            TimeRange(since, until),
            actor_user_id=actor_user_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
        )
        return await admin_logs.audit_log(session, user, where, cursor=cursor, limit=limit)

    @get("/processing-logs", responses=problems(400, 401, 403))
    async def processing_logs(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        stage: Text = None,
        status: Text = None,
        message_id: Text = None,
        event_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = 50,
        cursor: FromQuery[str | None] = None,
    ) -> ProcessingLogList:
        """What the pipeline did with the tenant's mail, newest first; `message_id` is the
        Message-ID header (without angle brackets)."""
        where = ProcessingFilter(
            TimeRange(since, until),
            stage=stage,
            status=status,
            message_id=message_id,
            event_id=event_id,
        )
        return await admin_logs.processing_log(session, user, where, cursor=cursor, limit=limit)
