"""Table rows to API models: the only place the two shapes meet."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from postdesk_contracts.api import (
    AccountAccess,
    AttachmentInfo,
    EmailAddress,
    Me,
    MessageView,
    NoteView,
    NotificationView,
    SlaClockView,
    TicketDetail,
    TicketHistoryEntry,
    TicketHistoryList,
    TicketSummary,
)
from postdesk_schema import (
    Attachment,
    EmailAccount,
    EmailAssignment,
    Message,
    Notification,
    SlaTimer,
    Ticket,
    TicketHistory,
    TicketNote,
)

from postdesk_gateway.domain import CurrentUser


def _addresses(values: list[dict[str, Any]]) -> list[EmailAddress]:
    return [
        EmailAddress(name=str(v.get("name") or ""), email=str(v["email"]))
        for v in values
        if isinstance(v, dict) and v.get("email")
    ]


def account_access(
    user: CurrentUser, account: EmailAccount, assignment: EmailAssignment | None
) -> AccountAccess:
    def right(name: str) -> bool:
        return user.is_admin or (assignment is not None and bool(getattr(assignment, name)))

    return AccountAccess(
        account_id=account.id,
        address=account.address,
        display_name=account.display_name,
        kind=str(account.kind),
        role=str(assignment.role) if assignment is not None else None,
        can_send=right("can_send"),
        can_receive=right("can_receive"),
        can_delete=right("can_delete"),
        can_assign_others=right("can_assign_others"),
    )


def me(user: CurrentUser, accounts: list[AccountAccess]) -> Me:
    return Me(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        tenant_id=user.tenant_id,
        department_id=user.department_id,
        accounts=accounts,
    )


def _summary_fields(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": str(ticket.status),
        "priority": str(ticket.priority),
        "account_id": ticket.account_id,
        "department_id": ticket.department_id,
        "customer_email": ticket.customer_email,
        "customer_name": ticket.customer_name,
        "assignee_id": ticket.assignee_id,
        "message_count": ticket.message_count,
        "tags": list(ticket.tags),
        "created_at": ticket.created_at,
        "last_message_at": ticket.last_message_at,
    }


def ticket_summary(ticket: Ticket) -> TicketSummary:
    return TicketSummary(**_summary_fields(ticket))


def message_view(
    message: Message, attachments: list[Attachment], send_at: datetime | None = None
) -> MessageView:
    """The message; `send_at` is when it goes, for our mail still waiting for its time."""
    sender = (
        EmailAddress(name=message.from_name, email=message.from_email)
        if message.from_email
        else None
    )
    return MessageView(
        id=message.id,
        direction=message.direction,
        from_=sender,
        to=_addresses(message.to),
        cc=_addresses(message.cc),
        subject=message.subject,
        text_body=message.text_body,
        reply_text=message.reply_text,
        html_body=message.html_body,
        match_rule=message.match_rule,
        outbound_id=message.outbound_id,
        delivery_status=message.delivery_status,
        delivery_failure=message.delivery_failure,
        send_at=send_at,
        created_at=message.created_at,
        attachments=[
            AttachmentInfo(
                id=a.id,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                inline=a.inline,
                content_id=a.content_id,
            )
            for a in attachments
        ],
    )


def ticket_detail(
    ticket: Ticket,
    messages: list[tuple[Message, list[Attachment]]],
    clocks: list[SlaTimer] | None = None,
    send_times: Mapping[uuid.UUID, datetime] | None = None,
) -> TicketDetail:
    """The ticket with its messages; `send_times` (by outbound_id) says when our mail still
    waiting for its time goes."""
    times = send_times or {}
    return TicketDetail(
        **_summary_fields(ticket),
        first_responded_at=ticket.first_responded_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        assignment_rule=ticket.assignment_rule,
        linked_ticket_id=ticket.linked_ticket_id,
        merged_into_id=ticket.merged_into_id,
        reopened_count=ticket.reopened_count,
        response_minutes=ticket.response_minutes,
        resolution_minutes=ticket.resolution_minutes,
        sla=[sla_clock_view(c) for c in clocks or []],
        messages=[
            message_view(m, atts, times.get(m.outbound_id) if m.outbound_id else None)
            for m, atts in messages
        ],
    )


def sla_clock_view(timer: SlaTimer) -> SlaClockView:
    return SlaClockView(
        target=timer.target,
        state=timer.state,
        due_at=timer.due_at,
        warn_at=timer.warn_at,
        remaining_seconds=timer.remaining_seconds,
        warned_at=timer.warned_at,
        breached_at=timer.breached_at,
        stopped_at=timer.stopped_at,
    )


def ticket_history(rows: list[TicketHistory]) -> TicketHistoryList:
    return TicketHistoryList(
        items=[
            TicketHistoryEntry(
                id=row.id,
                ticket_id=row.ticket_id,
                kind=row.kind,
                rule=row.rule,
                detail=row.detail,
                message_id=row.message_id,
                actor_user_id=row.actor_user_id,
                event_id=row.event_id,
                created_at=row.created_at,
            )
            for row in rows
        ]
    )


def notification_view(notification: Notification) -> NotificationView:
    return NotificationView(
        id=notification.id,
        kind=notification.kind,
        ticket_id=notification.ticket_id,
        title=notification.title,
        body=notification.body,
        read_at=notification.read_at,
        created_at=notification.created_at,
        actor_id=notification.actor_id,
        event_count=notification.event_count,
        data=dict(notification.data),
        updated_at=notification.updated_at,
    )


def note_view(note: TicketNote) -> NoteView:
    return NoteView(
        id=note.id,
        ticket_id=note.ticket_id,
        author_id=note.author_id,
        body=note.body,
        mentioned_user_ids=[uuid.UUID(u) for u in note.mentioned_user_ids],
        created_at=note.created_at,
    )
