"""A reply sent from another mailbox than the ticket's (ADR 0016): the customer's answer to
that mailbox's address still lands on the ticket. Real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from postdesk_contracts import Address, EventType, OutboundRequested, new_envelope
from postdesk_router import followups
from postdesk_router.service import (
    RouteOutcome,
    RouteStatus,
    default_thread_tokens,
    route_in_transaction,
)
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import EmailAccount, Message, Ticket, TicketHistory
from sqlalchemy import select
from sqlmodel import col

from .factories import Seed, make_event, make_parsed, seed_tenant, store_body
from .test_rules import route
from .test_service import PRIMARY

pytestmark = pytest.mark.integration


async def second_mailbox(sessions: Sessions, seed: Seed) -> EmailAccount:
    """Another active mailbox of the seed's tenant, in a domain of its own."""
    account = EmailAccount(
        tenant_id=seed.tenant.id,
        address=f"billing-{uuid.uuid4().hex[:8]}@billing.example",
        display_name="Billing",
        department_id=seed.department.id,
    )
    async with sessions() as session, session.begin():
        session.add(account)
    return account


async def reply_from(
    sessions: Sessions, seed: Seed, ticket_id: uuid.UUID, account: EmailAccount
) -> OutboundRequested:
    """An agent's reply on the ticket sent from `account`, as the gateway requests it (signed
    Message-ID in that mailbox's domain, Reply-To its reply-token address), recorded."""
    tokens = default_thread_tokens()
    outbound_id = uuid.uuid4()
    reply_address = tokens.reply_address(ticket_id, account.address)
    assert reply_address is not None
    request = OutboundRequested(
        outbound_id=outbound_id,
        account_id=account.id,
        ticket_id=ticket_id,
        kind="reply",
        to=[Address(email="carol@customer.example")],
        subject="Re: Printer on fire",
        text="We refunded it.",
        requested_by=seed.users["pat"].id,
        message_id=tokens.message_id(ticket_id, str(outbound_id), "billing.example"),
        reply_to=[Address(name="Billing", email=reply_address)],
    )
    envelope = new_envelope(EventType.OUTBOUND_REQUESTED, request, tenant_id=seed.tenant.id)
    assert await followups.record_outbound(sessions, envelope)
    return request


async def route_to(sessions: Sessions, blobs: BlobStore, to: str, **fields: object) -> RouteOutcome:
    """Route the customer's mail to `to` (by envelope and header)."""
    mail = make_parsed(
        to=[Address(email=to)],
        envelope_recipients=[to],
        body_blob_ref=await store_body(blobs),
        **fields,
    )
    outcome = await route_in_transaction(sessions, blobs, make_event(mail))
    assert outcome.status == RouteStatus.ROUTED
    return outcome


async def ticket_row(sessions: Sessions, ticket_id: uuid.UUID | None) -> Ticket:
    async with sessions() as session:
        return (await session.scalars(select(Ticket).where(col(Ticket.id) == ticket_id))).one()


async def message_row(sessions: Sessions, message_id: uuid.UUID | None) -> Message:
    async with sessions() as session:
        return (await session.scalars(select(Message).where(col(Message.id) == message_id))).one()


async def test_our_reply_from_another_mailbox_is_stored_as_sent_from_it(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed = await seed_tenant(sessions, [PRIMARY])
    billing = await second_mailbox(sessions, seed)
    first = await route(sessions, blobs, seed)
    assert first.ticket_id is not None
    request = await reply_from(sessions, seed, first.ticket_id, billing)
    async with sessions() as session:
        ours = (
            await session.scalars(
                select(Message).where(col(Message.outbound_id) == request.outbound_id)
            )
        ).one()
        [history] = (
            await session.scalars(
                select(TicketHistory).where(
                    col(TicketHistory.message_id) == ours.id, col(TicketHistory.kind) == "outbound"
                )
            )
        ).all()
    assert (ours.ticket_id, ours.account_id) == (first.ticket_id, billing.id)
    assert ours.from_email == billing.address
    assert history.detail == f"reply from {billing.address} to carol@customer.example requested"


@pytest.mark.parametrize("answer_by", ["in-reply-to", "reply-token", "both"])
async def test_an_answer_to_the_other_mailbox_lands_on_the_ticket(
    sessions: Sessions, blobs: BlobStore, answer_by: str
) -> None:
    """Whether the customer's client keeps In-Reply-To (our signed Message-ID), the reply-token
    address, or both: the answer, received by the other mailbox, joins the ticket, which stays
    in its own mailbox."""
    seed = await seed_tenant(sessions, [PRIMARY])
    billing = await second_mailbox(sessions, seed)
    first = await route(sessions, blobs, seed)
    assert first.ticket_id is not None
    request = await reply_from(sessions, seed, first.ticket_id, billing)
    assert request.message_id is not None
    token_address = request.reply_to[0].email
    to = billing.address
    fields: dict[str, list[str]] = {}
    if answer_by in ("in-reply-to", "both"):
        fields["in_reply_to"] = [request.message_id]
    if answer_by in ("reply-token", "both"):
        to = token_address
        fields["plus_tokens"] = [token_address.partition("@")[0].split("+", 1)[1]]
    answer = await route_to(sessions, blobs, to, **fields)
    assert answer.ticket_id == first.ticket_id
    stored = await message_row(sessions, answer.message_id)
    assert stored.account_id == billing.id  # received by the other mailbox
    assert stored.match_rule == (
        "reply-token" if answer_by != "in-reply-to" else "signed-message-id"
    )
    ticket = await ticket_row(sessions, first.ticket_id)
    assert ticket.account_id == seed.account.id
    assert ticket.message_count == 3
