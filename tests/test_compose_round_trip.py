"""A composed ticket through the gateway and the router, at service level, on the real
PostgreSQL: the gateway opens the ticket and writes outbound.requested to its outbox; the
router stores that mail on the ticket under the id ticket.created announced; the customer's
answer joins the ticket and, as it waits on the customer, opens it. No SLA clock is started
for it, though the tenant's policy times the tickets the router opens; and routed and
composed tickets share the tenant's numbers."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from postdesk_contracts import (
    Address,
    Envelope,
    EventType,
    MailParsed,
    OutboundCancelled,
    OutboundRequested,
    TicketCreated,
    TicketUpdated,
    new_envelope,
)
from postdesk_contracts.addressing import outbound_message_row_id
from postdesk_contracts.api import ComposeAccepted, ComposeRequest, Recipient
from postdesk_gateway.compose import compose_ticket
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.uploads import Uploads
from postdesk_router import followups
from postdesk_router.service import RouteStatus, default_thread_tokens, route_in_transaction
from postdesk_router.settings import RouterSettings
from postdesk_runtime import BlobStore, Sessions, make_blob_store, make_engine, make_sessions
from postdesk_schema import (
    AssignmentRole,
    Department,
    EmailAccount,
    EmailAssignment,
    Message,
    OutboxEvent,
    SlaPolicy,
    SlaTimer,
    Tenant,
    Ticket,
    TicketHistory,
    User,
)
from sqlalchemy import update
from sqlmodel import col, select

pytestmark = pytest.mark.integration

CUSTOMER = Address(name="Carol Customer", email="carol@customer.example")


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url, pool_size=4)
    yield make_sessions(engine)
    await engine.dispose()


@pytest_asyncio.fixture
async def blobs(blob_dir: Path) -> BlobStore:
    return make_blob_store(RouterSettings(blob_dir=blob_dir))


@dataclass
class Desk:
    tenant: Tenant
    account: EmailAccount
    agent: CurrentUser


@pytest_asyncio.fixture
async def desk(sessions: Sessions) -> AsyncIterator[Desk]:
    """A tenant whose SLA policy times every ticket, a mailbox in a department, and its
    primary agent (can_send). Its running clocks are stopped afterwards, so no other
    test's scanner warns about them."""
    suffix = uuid.uuid4().hex[:10]
    tenant = Tenant(name=f"Acme {suffix}", slug=f"acme-{suffix}")
    department = Department(tenant_id=tenant.id, name="Support")
    account = EmailAccount(
        tenant_id=tenant.id, address=f"cs-{suffix}@acme.example", department_id=department.id
    )
    user = User(
        tenant_id=tenant.id,
        email=f"pat-{suffix}@acme.example",
        password_hash="x",
        full_name="Pat",
    )
    async with sessions() as session, session.begin():
        for row in (tenant, department, account, user):
            session.add(row)
            await session.flush()
        session.add(
            EmailAssignment(
                tenant_id=tenant.id,
                account_id=account.id,
                user_id=user.id,
                role=AssignmentRole.PRIMARY,
                can_send=True,
            )
        )
        session.add(
            SlaPolicy(
                tenant_id=tenant.id,
                name="standard",
                first_response_minutes=60,
                resolution_minutes=480,
            )
        )
    agent = CurrentUser(
        id=user.id,
        tenant_id=tenant.id,
        email=user.email,
        full_name=user.full_name,
        role="member",
        department_id=None,
        is_admin=False,
    )
    yield Desk(tenant, account, agent)
    async with sessions() as session, session.begin():
        await session.execute(
            update(SlaTimer).where(col(SlaTimer.tenant_id) == tenant.id).values(state="stopped")
        )


async def compose(
    sessions: Sessions, blobs: BlobStore, desk: Desk, subject: str
) -> ComposeAccepted:
    async with sessions() as session:
        return await compose_ticket(
            session,
            desk.agent,
            ComposeRequest(
                account_id=desk.account.id,
                to=[Recipient(name=CUSTOMER.name, email=CUSTOMER.email)],
                subject=subject,
                text="Your replacement printer ships today.",
            ),
            idempotency_key=None,
            ip="127.0.0.1",
            wake_relay=lambda: None,
            thread_tokens=default_thread_tokens(),
            uploads=Uploads(RouterSettings().keyring(), blobs),
        )


async def gateway_event(sessions: Sessions, event_type: EventType, ticket_id: uuid.UUID) -> str:
    """The body of the one event of `event_type` the gateway wrote for the ticket."""
    async with sessions() as session:
        [body] = (
            await session.scalars(
                select(col(OutboxEvent.body)).where(
                    col(OutboxEvent.service) == "gateway",
                    col(OutboxEvent.routing_key) == event_type.value,
                    col(OutboxEvent.body).contains(str(ticket_id)),
                )
            )
        ).all()
        return body


async def customer_mail(
    blobs: BlobStore, desk: Desk, sender: Address, subject: str, **fields: Any
) -> Envelope[MailParsed]:
    message_id = f"{uuid.uuid4().hex}@customer.example"
    raw = f"raw of {message_id}".encode()
    body = json.dumps({"text": "Thanks!", "html": None}).encode()
    parsed = MailParsed(
        raw_blob_ref="sha256:" + hashlib.sha256(raw).hexdigest(),
        sha256=hashlib.sha256(raw).hexdigest(),
        body_blob_ref=await blobs.put(body),
        message_id=message_id,
        subject=subject,
        from_=sender,
        to=[Address(email=desk.account.address)],
        text_preview="Thanks!",
        received_at=datetime.now(UTC),
        **fields,
    )
    return new_envelope(EventType.MAIL_PARSED, parsed)


async def clocks(sessions: Sessions, ticket_id: uuid.UUID) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(col(SlaTimer.target)).where(col(SlaTimer.ticket_id) == ticket_id)
        )
        return sorted(rows.all())


async def test_the_customers_answer_joins_the_composed_ticket_and_opens_it(
    sessions: Sessions, blobs: BlobStore, desk: Desk
) -> None:
    accepted = await compose(sessions, blobs, desk, "Your replacement printer")
    created = Envelope[TicketCreated].model_validate_json(
        await gateway_event(sessions, EventType.TICKET_CREATED, accepted.ticket_id)
    )
    requested = Envelope[OutboundRequested].model_validate_json(
        await gateway_event(sessions, EventType.OUTBOUND_REQUESTED, accepted.ticket_id)
    )

    assert await followups.record_outbound(sessions, requested)
    async with sessions() as session:
        stored = await session.get(Message, created.payload.first_message_id)
        ticket = await session.get(Ticket, accepted.ticket_id)
    assert stored is not None
    assert ticket is not None
    assert (stored.ticket_id, stored.direction) == (accepted.ticket_id, "outbound")
    assert stored.message_id_header == requested.payload.message_id
    assert stored.outbound_id == accepted.outbound_id
    assert (ticket.message_count, ticket.status) == (1, "pending")
    assert ticket.last_agent_reply_at is not None
    assert ticket.response_minutes is None  # the composition was no answer to anyone

    answer = await customer_mail(
        blobs,
        desk,
        CUSTOMER,
        "Re: Your replacement printer",
        in_reply_to=[stored.message_id_header],
        references=[stored.message_id_header],
    )
    outcome = await route_in_transaction(sessions, blobs, answer, tokens=default_thread_tokens())
    assert outcome.status == RouteStatus.ROUTED
    assert outcome.ticket_id == accepted.ticket_id
    async with sessions() as session:
        ticket = await session.get(Ticket, accepted.ticket_id)
        history = (
            await session.scalars(
                select(TicketHistory)
                .where(col(TicketHistory.ticket_id) == accepted.ticket_id)
                .order_by(col(TicketHistory.created_at), col(TicketHistory.id))
            )
        ).all()
    assert ticket is not None
    assert (ticket.status, ticket.message_count) == ("open", 2)
    assert ticket.last_customer_message_at is not None
    assert [(h.kind, h.rule) for h in history if h.kind in ("created", "status")] == [
        ("created", "composed"),
        ("status", "customer-replied"),
    ]
    assert await clocks(sessions, accepted.ticket_id) == []


async def test_routed_and_composed_tickets_share_the_tenants_numbers(
    sessions: Sessions, blobs: BlobStore, desk: Desk
) -> None:
    """The router opens the next number after a composition, and the gateway the next after
    that; only the router's ticket gets the policy's clocks."""
    first = await compose(sessions, blobs, desk, "Your order")
    stranger = Address(name="Dan", email="dan@elsewhere.example")
    routed = await route_in_transaction(
        sessions,
        blobs,
        await customer_mail(blobs, desk, stranger, "A new question"),
        tokens=default_thread_tokens(),
    )
    second = await compose(sessions, blobs, desk, "Your invoice")
    assert routed.status == RouteStatus.ROUTED
    assert routed.ticket_id is not None
    async with sessions() as session:
        opened = await session.get(Ticket, routed.ticket_id)
    assert opened is not None
    assert (first.number, opened.number, second.number) == (1, 2, 3)
    assert await clocks(sessions, routed.ticket_id) == ["first_response", "resolution"]
    assert await clocks(sessions, first.ticket_id) == []
    assert await clocks(sessions, second.ticket_id) == []


async def test_undoing_the_composed_mail_closes_its_empty_ticket(
    sessions: Sessions, blobs: BlobStore, desk: Desk
) -> None:
    """A ticket whose only mail was undone leaves the inbox (closed, with the reason and a
    ticket.updated); a ticket with a customer's mail on it stays as it was."""
    accepted = await compose(sessions, blobs, desk, "Your order, sent too soon")
    requested = Envelope[OutboundRequested].model_validate_json(
        await gateway_event(sessions, EventType.OUTBOUND_REQUESTED, accepted.ticket_id)
    )
    assert await followups.record_outbound(sessions, requested)
    undo = new_envelope(
        EventType.OUTBOUND_CANCELLED,
        OutboundCancelled(
            outbound_id=accepted.outbound_id,
            account_id=desk.account.id,
            ticket_id=accepted.ticket_id,
            cancelled_by=desk.agent.id,
        ),
        tenant_id=desk.tenant.id,
    )
    assert await followups.record_cancelled(sessions, undo)
    assert not await followups.record_cancelled(sessions, undo)  # redelivered: nothing more

    async with sessions() as session:
        ticket = await session.get(Ticket, accepted.ticket_id)
        history = (
            await session.scalars(
                select(TicketHistory).where(
                    col(TicketHistory.ticket_id) == accepted.ticket_id,
                    col(TicketHistory.kind) == "status",
                )
            )
        ).all()
        updates = (
            await session.scalars(
                select(col(OutboxEvent.body)).where(
                    col(OutboxEvent.service) == "router",
                    col(OutboxEvent.routing_key) == EventType.TICKET_UPDATED.value,
                    col(OutboxEvent.body).contains(str(accepted.ticket_id)),
                )
            )
        ).all()
    assert ticket is not None
    assert ticket.status == "closed"
    assert ticket.closed_at is not None
    assert [(h.rule, h.detail) for h in history] == [
        ("compose-undone", "the mail that opened the ticket was undone before it was sent")
    ]
    [body] = updates
    closed = Envelope[TicketUpdated].model_validate_json(body)
    assert [(c.field, c.old, c.new) for c in closed.payload.changes] == [
        ("status", "pending", "closed")
    ]

    # an undone reply on a ticket the customer wrote to closes nothing
    answered = await compose(sessions, blobs, desk, "Your invoice")
    first = Envelope[OutboundRequested].model_validate_json(
        await gateway_event(sessions, EventType.OUTBOUND_REQUESTED, answered.ticket_id)
    )
    assert await followups.record_outbound(sessions, first)
    async with sessions() as session:
        first_row = await session.get(Message, outbound_message_row_id(first.payload.outbound_id))
    assert first_row is not None
    reply = await customer_mail(
        blobs,
        desk,
        CUSTOMER,
        "Re: Your invoice",
        in_reply_to=[first_row.message_id_header],
    )
    assert (
        await route_in_transaction(sessions, blobs, reply, tokens=default_thread_tokens())
    ).ticket_id == answered.ticket_id
    assert await followups.record_cancelled(
        sessions,
        new_envelope(
            EventType.OUTBOUND_CANCELLED,
            OutboundCancelled(
                outbound_id=answered.outbound_id,
                account_id=desk.account.id,
                ticket_id=answered.ticket_id,
            ),
            tenant_id=desk.tenant.id,
        ),
    )
    async with sessions() as session:
        still = await session.get(Ticket, answered.ticket_id)
    assert still is not None
    assert still.status == "open"
