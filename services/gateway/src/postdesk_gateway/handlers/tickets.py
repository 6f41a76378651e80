"""The inbox: ticket lists, ticket detail and history, agent changes, replies, new mail."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter, JSONBody, QueryParameter
from postdesk_contracts.api import (
    ComposeAccepted,
    ComposeRequest,
    ReplyAccepted,
    ReplyRequest,
    TicketDetail,
    TicketHistoryList,
    TicketUpdateResult,
)
from postdesk_contracts.api_inbox import (
    MAX_TAG_CHARS,
    DateField,
    InboxCounts,
    InboxPage,
    InboxSort,
    InboxView,
    MergeRequest,
    MergeResult,
    SlaState,
    SortDirection,
    TicketChangeRequest,
)
from postdesk_runtime import ThreadTokens
from postdesk_schema import TicketPriority, TicketStatus
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import compose, inbox, inbox_actions, inbox_merge, service
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import Cursor, TicketId
from postdesk_gateway.handlers.times import parse_time, time_query
from postdesk_gateway.inbox_db import InboxFilter
from postdesk_gateway.uploads import Uploads

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_KEY_HEADER,
        description="makes a retry safe: the same key gives the same outbound_id "
        "and queues nothing twice",
    ),
]


class TicketController(Controller):
    path = "/tickets"
    tags = ["tickets"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(400, 401, 503))
    async def list_tickets(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        view: Annotated[
            InboxView,
            QueryParameter(
                description="which tickets: all you can see, mine, assigned (to you) "
                "or department (yours)"
            ),
        ] = "all",
        account_id: Annotated[
            uuid.UUID | None,
            QueryParameter(description="only this mailbox's tickets"),
        ] = None,
        department_id: Annotated[
            uuid.UUID | None,
            QueryParameter(description="only this department's tickets"),
        ] = None,
        status: Annotated[
            list[TicketStatus] | None,
            QueryParameter(
                description="only these statuses (repeat the parameter for several)",
                examples=[Example(value=["open"])],
            ),
        ] = None,
        priority: Annotated[
            list[TicketPriority] | None,
            QueryParameter(
                description="only these priorities (repeat the parameter for several)",
                examples=[Example(value=["urgent"])],
            ),
        ] = None,
        tag: Annotated[
            str | None,
            QueryParameter(
                max_length=MAX_TAG_CHARS,
                description="only tickets with this tag (case-insensitive)",
                examples=[Example(value="billing")],
            ),
        ] = None,
        sentiment: Annotated[
            str | None,
            QueryParameter(
                max_length=40,
                description="only tickets of this sentiment",
                examples=[Example(value="negative")],
            ),
        ] = None,
        sla: Annotated[
            SlaState | None,
            QueryParameter(
                description="only tickets whose SLA clocks are ok, warned (not breached) "
                "or breached"
            ),
        ] = None,
        date_field: Annotated[
            DateField,
            QueryParameter(description="the time `since` and `until` compare"),
        ] = "created_at",
        since: Annotated[
            str | None, time_query("only tickets whose `date_field` is at or after this")
        ] = None,
        until: Annotated[
            str | None, time_query("only tickets whose `date_field` is before this")
        ] = None,
        q: Annotated[
            str | None,
            QueryParameter(
                min_length=1,
                max_length=200,
                description="search words: subject, customer, every message's sender and text",
                examples=[Example(value="refund")],
            ),
        ] = None,
        unread_only: Annotated[
            bool,
            QueryParameter(description="only tickets unread by you"),
        ] = False,
        assigned_to_me: Annotated[
            bool,
            QueryParameter(description="the same as `view=assigned`"),
        ] = False,
        sort: Annotated[
            InboxSort,
            QueryParameter(description="the order of the list"),
        ] = "last_message_at",
        direction: Annotated[
            SortDirection,
            QueryParameter(description="ascending or descending `sort`"),
        ] = "desc",
        limit: Annotated[
            int,
            QueryParameter(ge=1, le=100, description="tickets per page"),
        ] = 50,
        cursor: Cursor = None,
    ) -> InboxPage:
        """Tickets you can see, filtered and sorted (latest activity first by default);
        follow `next_cursor`, with the same filters and sort, for more.

        `view`: all (an admin's whole tenant, a member's mailboxes), mine (your personal
        mailboxes), assigned (to you; `assigned_to_me=true` is the same), department
        (yours). `q` searches subjects, customers and every message's sender and text."""
        wanted = InboxFilter(
            view="assigned" if assigned_to_me else view,
            account_id=account_id,
            department_id=department_id,
            statuses=[str(s) for s in status or []],
            priorities=[str(p) for p in priority or []],
            tag=tag,
            sentiment=sentiment,
            sla=sla,
            date_field=date_field,
            since=parse_time("since", since),
            until=parse_time("until", until),
            q=q,
            unread_only=unread_only,
            sort=sort,
            direction=direction,
        )
        return await inbox.list_inbox(session, user, wanted, limit=limit, cursor=cursor)

    @get("/counts", responses=problems(401))
    async def counts(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> InboxCounts:
        """The sidebar's numbers in one call; `all` is for admins only (null otherwise)."""
        return await inbox.counts(session, user)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 413, 422, 429))
    async def compose(
        self,
        data: JSONBody[ComposeRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
        thread_tokens: NamedDependency[ThreadTokens],
        uploads: NamedDependency[Uploads],
        idempotency_key: IdempotencyKey = None,
    ) -> ComposeAccepted:
        """Write to a customer from a mailbox you may send from (needs can_send): opens a
        ticket at once, pending on the customer and assigned to you, and queues the mail.

        The first `to` recipient is the ticket's customer. The mail goes at
        `send_at` (the requested time, or after the tenant's undo window) and
        can be undone until then at `undo_url`; the ticket stays."""
        return await compose.compose_ticket(
            session,
            user,
            data,
            idempotency_key=idempotency_key,
            ip=client_ip,
            wake_relay=wake_relay,
            thread_tokens=thread_tokens,
            uploads=uploads,
        )

    @get("/{ticket_id:uuid}", responses=problems(400, 401, 404))
    async def get_ticket(
        self,
        ticket_id: TicketId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> TicketDetail:
        """One ticket with its messages, oldest first. Every read is audit-logged."""
        return await service.read_ticket(session, user, ticket_id, ip=client_ip)

    @get("/{ticket_id:uuid}/history", responses=problems(400, 401, 404))
    async def get_history(
        self,
        ticket_id: TicketId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> TicketHistoryList:
        """What happened to the ticket and why, oldest first: which rule matched each
        message (or why none did), which rule assigned it, agent changes. Audit-logged."""
        return await service.ticket_history(session, user, ticket_id, ip=client_ip)

    @patch("/{ticket_id:uuid}", responses=problems(400, 401, 403, 404, 422))
    async def update_ticket(
        self,
        ticket_id: TicketId,
        data: JSONBody[TicketChangeRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
    ) -> TicketUpdateResult:
        """Set the ticket's status, priority or tags (needs can_send) or its assignee
        (can_assign_others; can_send to take it yourself). Publishes ticket.assigned for a
        new assignee and ticket.updated for the rest, when something changed."""
        return await inbox_actions.change_ticket(
            session, user, ticket_id, data, ip=client_ip, wake_relay=wake_relay
        )

    @delete("/{ticket_id:uuid}", status_code=204, responses=problems(400, 401, 403, 404))
    async def delete_ticket(
        self,
        ticket_id: TicketId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
    ) -> None:
        """Delete the ticket (needs can_delete): it leaves every list, count and view."""
        await inbox_actions.delete_ticket(
            session, user, ticket_id, ip=client_ip, wake_relay=wake_relay
        )

    @post(
        "/{ticket_id:uuid}/merge", status_code=200, responses=problems(400, 401, 403, 404, 409, 422)
    )
    async def merge(
        self,
        ticket_id: TicketId,
        data: JSONBody[MergeRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
    ) -> MergeResult:
        """Merge this ticket into `into_ticket_id` (needs can_send on both mailboxes): its
        messages move there, it is closed and points at the survivor; its notes and history
        show on the survivor. Publishes ticket.updated for both."""
        return await inbox_merge.merge_tickets(
            session, user, ticket_id, data.into_ticket_id, ip=client_ip, wake_relay=wake_relay
        )

    @post("/{ticket_id:uuid}/unread", status_code=204, responses=problems(400, 401, 404))
    async def mark_unread(
        self,
        ticket_id: TicketId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> None:
        """Mark the ticket unread for you again (opening it marks it read)."""
        await inbox.mark_unread(session, user, ticket_id)

    @post(
        "/{ticket_id:uuid}/replies",
        status_code=202,
        responses=problems(400, 401, 403, 404, 413, 422, 429),
    )
    async def reply(
        self,
        ticket_id: TicketId,
        data: JSONBody[ReplyRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
        thread_tokens: NamedDependency[ThreadTokens],
        uploads: NamedDependency[Uploads],
        idempotency_key: IdempotencyKey = None,
    ) -> ReplyAccepted:
        """Queue a reply to the customer from the ticket's mailbox (needs can_send), or from
        `from_account_id`: another active mailbox you may send from (404 if you cannot see
        it, 403 without can_send or when it is deactivated).

        It goes at `send_at` (the requested time, or after the tenant's undo
        window) and can be undone until then at `undo_url`. An answer to it, to
        either mailbox's address, comes back to this ticket."""
        return await service.request_reply(
            session,
            user,
            ticket_id,
            data,
            idempotency_key=idempotency_key,
            ip=client_ip,
            wake_relay=wake_relay,
            thread_tokens=thread_tokens,
            uploads=uploads,
        )
