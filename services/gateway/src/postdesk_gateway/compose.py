"""A new mail from an agent: the gateway opens its ticket at once, then queues the mail.

The ticket is there before the mail is, so the answer names it (id and
number) and the mail is written as one on the ticket from the start: a
Message-ID signed for it, the tenant's Reply-To, the [#n] subject tag.

One transaction holds it all: the tenant's next ticket number (the
router's statement, so routed and composed tickets share one sequence),
the ticket (pending on the customer, assigned to its author, rule
`composed`), its history rows, the audit row, and ticket.created,
ticket.assigned and outbound.requested through the outbox. The router
stores the mail on the ticket when it handles outbound.requested, under
the row id `outbound_message_row_id(outbound_id)` that ticket.created
names as its first message.

A composed ticket starts no SLA clock: the router starts clocks only for
tickets it opens, and the first response is the composition itself
(`first_responded_at` set, `response_minutes` left empty: nobody waited).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from postdesk_contracts import (
    Address,
    Attachment,
    Envelope,
    EventType,
    OutboundRequested,
    TicketAssigned,
    TicketCreated,
    new_envelope,
)
from postdesk_contracts.addressing import outbound_message_row_id
from postdesk_contracts.api import ComposeAccepted, ComposeRequest, Recipient
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.outbound_policy import OutboundPolicy
from postdesk_runtime import ThreadTokens
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import (
    AuditLog,
    EmailAccount,
    Ticket,
    TicketHistory,
    TicketStatus,
    take_ticket_number,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db
from postdesk_gateway.domain import CurrentUser, header_text, request_fingerprint
from postdesk_gateway.sending_accounts import sending_account
from postdesk_gateway.service import (
    SERVICE,
    departure,
    prepare_send,
    reply_to,
    same_request,
    signed_message_id,
)
from postdesk_gateway.uploads import Uploads

COMPOSED_RULE = "composed"
COMPOSE_KIND = "compose"
AUDIT_ACTION = "ticket.composed"

log = structlog.get_logger(__name__)


async def compose_ticket(
    session: AsyncSession,
    user: CurrentUser,
    request: ComposeRequest,
    *,
    idempotency_key: str | None,
    ip: str,
    wake_relay: Callable[[], None],
    thread_tokens: ThreadTokens,
    uploads: Uploads,
    now: datetime | None = None,
) -> ComposeAccepted:
    """Open a ticket by writing to a customer from `request.account_id`.

    Needs an active assignment with can_send on the mailbox, or tenant admin
    (403; 403 too for a deactivated mailbox); a mailbox the user cannot see,
    another tenant's among them, is a 404. A full sending quota is a 429 and
    a bad `send_at` a 400, before anything is written; so are attachments
    that are not the user's unexpired uploads (400) or too large together (413).

    With an `Idempotency-Key` the outbound_id derives from the user and the
    key, and the ticket's id, the events' ids and the audit row's id from
    the outbound_id: a retry of a committed request writes nothing and
    answers as the first time did (422 if its mailbox or body differ), and
    of two concurrent ones the primary keys let one commit (the other's
    ticket number is rolled back with it, never used).
    """
    now = now or datetime.now(UTC)
    account = await sending_account(session, user, request.account_id)
    fingerprint = request_fingerprint(account.id, request.model_dump_json())
    prepared = await prepare_send(
        session,
        user,
        account.id,
        idempotency_key=idempotency_key,
        send_at=request.send_at,
        upload_ids=request.attachments,
        uploads=uploads,
        now=now,
    )
    if isinstance(prepared, AuditLog):
        return _replayed(prepared, fingerprint)
    outbound_id, audit_id = prepared.outbound_id, prepared.audit_id
    try:
        accepted = await _open_ticket(
            session,
            user,
            account,
            request,
            outbound_id=outbound_id,
            send_at=prepared.send_at,
            attachments=prepared.attachments,
            policy=prepared.policy,
            thread_tokens=thread_tokens,
            ip=ip,
            fingerprint=fingerprint,
            now=now,
        )
        await session.commit()
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        await session.rollback()
        earlier = await db.reply_audit(session, user.tenant_id, audit_id)
        if earlier is None or idempotency_key is None:
            raise
        return _replayed(earlier, fingerprint)
    wake_relay()
    log.info("ticket composed", ticket_id=str(accepted.ticket_id), outbound_id=str(outbound_id))
    return accepted


async def _open_ticket(
    session: AsyncSession,
    user: CurrentUser,
    account: EmailAccount,
    request: ComposeRequest,
    *,
    outbound_id: uuid.UUID,
    send_at: datetime | None,
    attachments: list[Attachment],
    policy: OutboundPolicy,
    thread_tokens: ThreadTokens,
    ip: str,
    fingerprint: str,
    now: datetime,
) -> ComposeAccepted:
    """Write the ticket, its history, the audit row and the three events (not committed)."""
    # Taken last: the tenant row stays locked (as the router locks it) until the commit.
    number = await take_ticket_number(session, user.tenant_id)
    ticket = _ticket_row(user, account, request, outbound_id, number, now)
    session.add(ticket)
    await session.flush()  # the ticket before the rows that refer to it
    outbound = new_envelope(
        EventType.OUTBOUND_REQUESTED,
        OutboundRequested(
            outbound_id=outbound_id,
            account_id=account.id,
            ticket_id=ticket.id,
            kind=COMPOSE_KIND,
            to=_addresses(request.to),
            cc=_addresses(request.cc),
            bcc=_addresses(request.bcc),
            subject=ticket.subject,
            text=request.text,
            html=request.html,
            requested_by=user.id,
            message_id=signed_message_id(thread_tokens, ticket.id, outbound_id, account.address),
            reply_to=reply_to(thread_tokens, ticket.id, account, policy.reply_to),
            send_at=send_at,
            attachments=attachments,
        ),
        tenant_id=user.tenant_id,
        event_id=derived_event_id(outbound_id, EventType.OUTBOUND_REQUESTED.value),
    )
    created, assigned = _ticket_events(user, ticket, outbound_id)
    session.add_all([outbox_row(SERVICE, e) for e in (created, assigned, outbound)])
    goes_at = departure(send_at, now, policy.undo_seconds)
    _history(session, user, ticket, created=created, assigned=assigned, now=now)
    db.audit(
        session,
        user,
        action=AUDIT_ACTION,
        object_type="ticket",
        object_id=ticket.id,
        ip=ip,
        detail={
            "outbound_id": str(outbound_id),
            "ticket_id": str(ticket.id),
            "number": number,
            "event_id": str(outbound.id),
            "send_at": goes_at.isoformat(),
            "scheduled": send_at is not None,
            "request_sha256": fingerprint,
        },
        audit_id=derived_event_id(outbound_id, "audit"),
    )
    return _accepted(outbound_id, goes_at, ticket.id, number)


def _ticket_row(
    user: CurrentUser,
    account: EmailAccount,
    request: ComposeRequest,
    outbound_id: uuid.UUID,
    number: int,
    now: datetime,
) -> Ticket:
    """The new ticket: the first To is its customer; it waits on them. No message yet
    (message_count 0): the router counts the mail when it stores it."""
    customer = request.to[0]
    return Ticket(
        id=derived_event_id(outbound_id, "ticket"),
        tenant_id=user.tenant_id,
        number=number,
        account_id=account.id,
        department_id=account.department_id,
        subject=header_text(request.subject),
        customer_email=customer.email,
        customer_name=header_text(customer.name),
        status=TicketStatus.PENDING,
        assignee_id=user.id,
        assignment_rule=COMPOSED_RULE,
        first_responded_at=now,
        message_count=0,
        created_at=now,
        updated_at=now,
        last_message_at=now,
    )


def _ticket_events(
    user: CurrentUser, ticket: Ticket, outbound_id: uuid.UUID
) -> tuple[Envelope[TicketCreated], Envelope[TicketAssigned]]:
    created = new_envelope(
        EventType.TICKET_CREATED,
        TicketCreated(
            ticket_id=ticket.id,
            number=ticket.number,
            account_id=ticket.account_id,
            department_id=ticket.department_id,
            subject=ticket.subject,
            customer_email=ticket.customer_email,
            first_message_id=outbound_message_row_id(outbound_id),
            priority=str(ticket.priority),
        ),
        tenant_id=user.tenant_id,
        event_id=derived_event_id(outbound_id, EventType.TICKET_CREATED.value),
    )
    assigned = new_envelope(
        EventType.TICKET_ASSIGNED,
        TicketAssigned(
            ticket_id=ticket.id,
            account_id=ticket.account_id,
            assignee_id=user.id,
            rule=COMPOSED_RULE,
            reason="the agent who wrote the first mail",
            assigned_by=user.id,
        ),
        tenant_id=user.tenant_id,
        event_id=derived_event_id(outbound_id, EventType.TICKET_ASSIGNED.value),
    )
    return created, assigned


def _history(
    session: AsyncSession,
    user: CurrentUser,
    ticket: Ticket,
    *,
    created: Envelope[Any],
    assigned: Envelope[Any],
    now: datetime,
) -> None:
    for kind, detail, event in (
        ("created", f"opened by a mail to {ticket.customer_email}", created),
        ("assigned", "the agent who wrote the first mail", assigned),
    ):
        session.add(
            TicketHistory(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                kind=kind,
                rule=COMPOSED_RULE,
                detail=detail,
                actor_user_id=user.id,
                event_id=event.id,
                created_at=now,
            )
        )


def _addresses(recipients: list[Recipient]) -> list[Address]:
    return [Address(name=r.name, email=r.email) for r in recipients]


def _accepted(
    outbound_id: uuid.UUID, send_at: datetime, ticket_id: uuid.UUID, number: int
) -> ComposeAccepted:
    return ComposeAccepted(
        outbound_id=outbound_id,
        send_at=send_at,
        undo_url=f"/outbound/{outbound_id}/cancel",
        ticket_id=ticket_id,
        number=number,
    )


def _replayed(earlier: AuditLog, fingerprint: str) -> ComposeAccepted:
    """The answer to a retried request: the first one's, if it really is the same request."""
    same_request(earlier, fingerprint)
    detail = earlier.detail
    return _accepted(
        uuid.UUID(str(detail["outbound_id"])),
        datetime.fromisoformat(str(detail["send_at"])),
        uuid.UUID(str(detail["ticket_id"])),
        int(detail["number"]),
    )
