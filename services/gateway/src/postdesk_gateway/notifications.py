"""The caller's notifications and notification preferences; department managers (admin).

Notifications are written by the notifier; the gateway reads them, pages
them by their last change, and records that the user read them. Another
user's notification is a 404, never a 403.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from postdesk_contracts.api import (
    DepartmentManagers,
    NotificationList,
    NotificationPreferences,
    NotificationsReadResult,
    NotificationUnreadCount,
    NotificationView,
)
from postdesk_contracts.notify_prefs import (
    PreferencesError,
    effective_preferences,
    validate_preferences,
)
from postdesk_schema import Department
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, notify_db, views
from postdesk_gateway.admin_common import require_admin
from postdesk_gateway.domain import (
    CurrentUser,
    KeyCursor,
    NotFoundError,
    UnprocessableError,
    decode_key,
    encode_key,
)

log = structlog.get_logger(__name__)


async def list_notifications(
    session: AsyncSession,
    user: CurrentUser,
    *,
    unread_only: bool,
    limit: int,
    cursor: str | None,
) -> NotificationList:
    """One page of the user's notifications, latest change first; `next_cursor` is None on
    the last page."""
    rows = await notify_db.notifications_page(
        session,
        user,
        unread_only=unread_only,
        before=decode_key(cursor) if cursor else None,
        limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if more else None
    return NotificationList(
        items=[views.notification_view(n) for n in page],
        next_cursor=encode_key(KeyCursor(last.updated_at, last.id)) if last else None,
    )


async def unread_count(session: AsyncSession, user: CurrentUser) -> NotificationUnreadCount:
    return NotificationUnreadCount(unread=await notify_db.unread_count(session, user))


async def mark_read(
    session: AsyncSession, user: CurrentUser, notification_id: uuid.UUID
) -> NotificationView:
    """Mark one of the user's notifications read; reading it again keeps the first time."""
    notification = await notify_db.mark_read(session, user, notification_id, datetime.now(UTC))
    if notification is None:
        raise NotFoundError("notification not found")
    view = views.notification_view(notification)
    await session.commit()
    return view


async def mark_all_read(
    session: AsyncSession, user: CurrentUser, *, before: datetime | None
) -> NotificationsReadResult:
    marked = await notify_db.mark_all_read(session, user, before=before, now=datetime.now(UTC))
    await session.commit()
    return NotificationsReadResult(marked=marked)


async def preferences(session: AsyncSession, user: CurrentUser) -> NotificationPreferences:
    """What applies to the user: their stored choices, the defaults for the rest."""
    stored = await notify_db.stored_preferences(session, user)
    return NotificationPreferences(preferences=effective_preferences(stored))


async def set_preferences(
    session: AsyncSession, user: CurrentUser, wanted: dict[str, object]
) -> NotificationPreferences:
    """Replace the user's stored choices; 422 saying what is wrong when they are not valid."""
    try:
        stored = validate_preferences(wanted)
    except PreferencesError as exc:
        raise UnprocessableError(str(exc)) from exc
    await notify_db.store_preferences(session, user, stored)
    await session.commit()
    log.info("notification preferences saved", user_id=str(user.id))
    return NotificationPreferences(preferences=effective_preferences(stored))


async def _admin_department(
    session: AsyncSession, user: CurrentUser, department_id: uuid.UUID, *, lock: bool = False
) -> Department:
    """The tenant's department, for a tenant admin: 404 for another tenant's (whoever asks),
    403 for anyone but an admin."""
    department = await notify_db.tenant_department(
        session, user.tenant_id, department_id, lock=lock
    )
    if department is None:
        raise NotFoundError("department not found")
    require_admin(user, "manage departments")
    return department


async def department_managers(
    session: AsyncSession, user: CurrentUser, department_id: uuid.UUID
) -> DepartmentManagers:
    department = await _admin_department(session, user, department_id)
    return DepartmentManagers(
        department_id=department.id,
        user_ids=await notify_db.department_managers(session, department),
    )


async def set_department_managers(
    session: AsyncSession,
    user: CurrentUser,
    department_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    *,
    ip: str,
) -> DepartmentManagers:
    """Replace the department's managers (audit-logged); 422 naming the ids that are not
    active users of the tenant."""
    wanted = list(dict.fromkeys(user_ids))
    department = await _admin_department(session, user, department_id, lock=True)
    usable = await notify_db.active_tenant_users(session, user.tenant_id, wanted)
    refused = [str(u) for u in wanted if u not in usable]
    if refused:
        raise UnprocessableError(
            "managers must be active users of your tenant; these are not: " + ", ".join(refused)
        )
    await notify_db.replace_managers(session, department, wanted)
    db.audit(
        session,
        user,
        action="department.managers_set",
        object_type="department",
        object_id=department.id,
        ip=ip,
        detail={"user_ids": [str(u) for u in wanted]},
    )
    managers = await notify_db.department_managers(session, department)
    await session.commit()
    return DepartmentManagers(department_id=department.id, user_ids=managers)
