"""Admin: the processing log and the audit log (read-only). Tenant admins only (403)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from postdesk_contracts.api_admin import AuditLogList, ProcessingLogList
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import admin_logs
from postdesk_gateway.admin_logs import AuditFilter, ProcessingFilter, TimeRange
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import Cursor
from postdesk_gateway.handlers.times import parse_time, time_query

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="rows per page")]
Since = Annotated[str | None, time_query("only rows from this time on")]
Until = Annotated[str | None, time_query("only rows before this time")]


class LogAdminController(Controller):
    path = "/admin"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get("/audit-log", responses=problems(400, 401, 403))
    async def audit_log(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        since: Since = None,
        until: Until = None,
        actor_user_id: Annotated[
            uuid.UUID | None, QueryParameter(description="only what this user did")
        ] = None,
        action: Annotated[
            str | None,
            QueryParameter(max_length=500, description="only this action, such as `user.created`"),
        ] = None,
        object_type: Annotated[
            str | None,
            QueryParameter(
                max_length=500, description="only actions on this kind of object, such as `ticket`"
            ),
        ] = None,
        object_id: Annotated[
            str | None,
            QueryParameter(max_length=500, description="only actions on this object (its id)"),
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AuditLogList:
        """Who did what, when, from where: newest first, `since` inclusive, `until`
        exclusive. `object_id` finds the rows of one ticket, message, user, mailbox, ..."""
        where = AuditFilter(
            TimeRange(parse_time("since", since), parse_time("until", until)),
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
        since: Since = None,
        until: Until = None,
        stage: Annotated[
            str | None,
            QueryParameter(
                max_length=500, description="only this pipeline stage: ingest, parser or router"
            ),
        ] = None,
        status: Annotated[
            str | None, QueryParameter(max_length=500, description="only rows with this status")
        ] = None,
        message_id: Annotated[
            str | None,
            QueryParameter(
                max_length=500,
                description="only this mail's rows: its Message-ID header, without angle brackets",
            ),
        ] = None,
        event_id: Annotated[
            uuid.UUID | None, QueryParameter(description="only the rows of this event")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ProcessingLogList:
        """What the pipeline did with the tenant's mail, newest first; `message_id` is the
        Message-ID header (without angle brackets)."""
        where = ProcessingFilter(
            TimeRange(parse_time("since", since), parse_time("until", until)),
            stage=stage,
            status=status,
            message_id=message_id,
            event_id=event_id,
        )
        return await admin_logs.processing_log(session, user, where, cursor=cursor, limit=limit)
