"""The caller's notifications: the list, reads, a live stream; and their preferences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from postdesk_contracts.api import (
    NotificationList,
    NotificationPreferences,
    NotificationPreferencesUpdate,
    NotificationsReadRequest,
    NotificationsReadResult,
    NotificationUnreadCount,
    NotificationView,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import notifications, views
from postdesk_gateway.auth import ACCESS_TOKEN_PARAMETER, TOKEN_IN_QUERY, TokenClaims
from postdesk_gateway.domain import CurrentUser, decode_key, encode_key
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import Cursor, NotificationId
from postdesk_gateway.live import Change, Heartbeat, NotificationStreams

RECONNECT_MILLISECONDS = 3000


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(400, 401))
    async def list_notifications(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        unread_only: Annotated[
            bool,
            QueryParameter(description="only unread notifications"),
        ] = False,
        limit: Annotated[
            int,
            QueryParameter(ge=1, le=100, description="notifications per page"),
        ] = 50,
        cursor: Cursor = None,
    ) -> NotificationList:
        """Your notifications, latest change first; follow `next_cursor` for more."""
        return await notifications.list_notifications(
            session, user, unread_only=unread_only, limit=limit, cursor=cursor
        )

    @get("/unread-count", responses=problems(401))
    async def unread_count(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> NotificationUnreadCount:
        """How many of your notifications are unread."""
        return await notifications.unread_count(session, user)

    @post("/{notification_id:uuid}/read", status_code=200, responses=problems(400, 401, 404))
    async def mark_read(
        self,
        notification_id: NotificationId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> NotificationView:
        """Mark one of your notifications read (again: nothing changes)."""
        return await notifications.mark_read(session, user, notification_id)

    @post("/read-all", status_code=200, responses=problems(400, 401))
    async def mark_all_read(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        data: JSONBody[NotificationsReadRequest | None] = None,
    ) -> NotificationsReadResult:
        """Mark your unread notifications read: all, or those changed at or before `before`."""
        before = data.before if data is not None else None
        return await notifications.mark_all_read(session, user, before=before)

    @get("/stream", opt=TOKEN_IN_QUERY, responses=problems(400, 401))
    async def stream(
        self,
        request: Request[CurrentUser, TokenClaims, State],
        user: NamedDependency[CurrentUser],
        notification_streams: NamedDependency[NotificationStreams],
        since: Annotated[
            str | None,
            QueryParameter(description="start after this stream position (an event's id)"),
        ] = None,
        last_event_id: Annotated[
            str | None,
            HeaderParameter(
                name="Last-Event-ID",
                description="the id of the last event received: EventSource sends it when "
                "it reconnects; wins over `since`",
            ),
        ] = None,
        access_token: Annotated[
            str | None,
            QueryParameter(
                name=ACCESS_TOKEN_PARAMETER,
                description="the bearer token, for EventSource clients that cannot send the "
                "Authorization header (this route only)",
            ),
        ] = None,
    ) -> ServerSentEvent:
        """Server-sent events: `notification` (data: the notification, id: the stream
        position) for every change to your notifications, as it happens.

        Starts after `Last-Event-ID` (or `since`, a position), replaying what changed
        since; without either, with the changes of the last few seconds. An event may
        come twice: key them by the notification's id. A comment every
        ~20 seconds keeps a quiet stream open; the stream ends when your token expires
        (reconnect with a new one) or the server shuts down."""
        position = last_event_id or since
        start = await notification_streams.start_position(
            decode_key(position) if position else None
        )
        events = notification_streams.events(user, start, until=request.auth.expires_at)
        return ServerSentEvent(_messages(events))


async def _messages(
    events: AsyncIterator[Change | Heartbeat],
) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(data=None, comment="connected", retry=RECONNECT_MILLISECONDS)
    async for item in events:
        if isinstance(item, Heartbeat):
            yield ServerSentEventMessage(data=None, comment="keep-alive")
        else:
            view = views.notification_view(item.notification)
            yield ServerSentEventMessage(
                id=encode_key(item.position), event="notification", data=view.model_dump_json()
            )


class PreferencesController(Controller):
    path = "/me/notification-preferences"
    tags = ["notifications"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401))
    async def get_preferences(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> NotificationPreferences:
        """What you hear about and where: every kind and channel, yours or the default."""
        return await notifications.preferences(session, user)

    @put(responses=problems(400, 401, 422))
    async def set_preferences(
        self,
        data: JSONBody[NotificationPreferencesUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> NotificationPreferences:
        """Replace your choices; kinds and channels left out take their defaults. 422 names
        an unknown kind or channel, or a value that is not true or false."""
        wanted: dict[str, Any] = dict(data.preferences)
        return await notifications.set_preferences(session, user, wanted)
