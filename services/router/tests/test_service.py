"""Routing against the real PostgreSQL: tickets, threading, dedupe, rejection, assignment."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from postdesk_contracts import Address, Attachment, Envelope, MailParsed
from postdesk_contracts.envelope import derived_event_id
from postdesk_router.service import RouteStatus, route_in_transaction
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import AssignmentRole, EmailProcessingLog, Message, OutboxEvent, Ticket
from postdesk_schema import Attachment as AttachmentRow
from sqlalchemy import func, select, text
from sqlmodel import col

from .factories import Seed, make_event, make_parsed, seed_tenant, store_body

pytestmark = pytest.mark.integration

PRIMARY = ("pat", AssignmentRole.PRIMARY, 0, True, True)
BACKUP_2 = ("bob", AssignmentRole.BACKUP, 2, True, True)
BACKUP_1 = ("bea", AssignmentRole.BACKUP, 1, True, True)
VIEWER = ("vic", AssignmentRole.VIEWER, 0, True, True)


async def parsed_to(seed: Seed, blobs: BlobStore, **overrides: Any) -> Envelope[MailParsed]:
    body_ref = await store_body(blobs)
    return make_event(
        make_parsed(to=[Address(email=seed.address.upper())], body_blob_ref=body_ref, **overrides)
    )


async def tickets_of(sessions: Sessions, seed: Seed) -> list[Ticket]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(select(Ticket).where(col(Ticket.tenant_id) == seed.tenant.id))
            ).all()
        )


async def messages_of(sessions: Sessions, seed: Seed) -> list[Message]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Message)
            .where(col(Message.tenant_id) == seed.tenant.id)
            .order_by(col(Message.created_at))
        )
        return list(rows.all())


async def outbox_caused_by(sessions: Sessions, cause: uuid.UUID) -> dict[str, dict[str, Any]]:
    """Router outbox rows caused by `cause`, keyed by routing key, as decoded envelopes."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                col(OutboxEvent.service) == "router",
                text("(outbox.body::jsonb ->> 'causation_id') = :cause").bindparams(
                    cause=str(cause)
                ),
            )
        )
        return {row.routing_key: json.loads(row.body) for row in rows.all()}


async def router_log(sessions: Sessions, event_id: uuid.UUID) -> EmailProcessingLog:
    async with sessions() as session:
        return (
            await session.scalars(
                select(EmailProcessingLog).where(
                    col(EmailProcessingLog.stage) == "router",
                    col(EmailProcessingLog.dedupe_key) == str(event_id),
                )
            )
        ).one()


async def test_new_ticket_is_opened_assigned_and_announced(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A first email opens ticket #1 for the account's primary and commits three outbox events."""
    seed = await seed_tenant(sessions, [PRIMARY, BACKUP_1, VIEWER])
    attachment = Attachment(
        filename="a.pdf", content_type="application/pdf", size=3, blob_ref=await blobs.put(b"pdf")
    )
    event = await parsed_to(seed, blobs, attachments=[attachment])

    outcome = await route_in_transaction(sessions, blobs, event)

    assert outcome.status is RouteStatus.ROUTED
    [ticket] = await tickets_of(sessions, seed)
    assert (ticket.number, ticket.subject, ticket.customer_email, ticket.customer_name) == (
        1,
        "Printer on fire",
        "carol@customer.example",
        "Carol Customer",
    )
    assert (ticket.account_id, ticket.department_id) == (seed.account.id, seed.department.id)
    assert (ticket.assignee_id, ticket.assignment_rule) == (seed.users["pat"].id, "primary")
    assert ticket.message_count == 1
    assert ticket.last_message_at == event.payload.received_at
    assert ticket.last_customer_message_at == event.payload.received_at
    assert ticket.last_agent_reply_at is None
    [message] = await messages_of(sessions, seed)
    assert (message.ticket_id, message.match_rule) == (ticket.id, "new-ticket")
    assert (message.text_body, message.html_body) == ("It is on fire.", "<p>It is on fire.</p>")
    assert message.message_id_header == event.payload.message_id
    async with sessions() as session:
        [stored] = (
            await session.scalars(
                select(AttachmentRow).where(col(AttachmentRow.message_id) == message.id)
            )
        ).all()
    assert (stored.filename, stored.blob_ref, stored.tenant_id) == (
        "a.pdf",
        attachment.blob_ref,
        seed.tenant.id,
    )

    emitted = await outbox_caused_by(sessions, event.id)
    assert set(emitted) == {"ticket.created", "ticket.message_added", "ticket.assigned"}
    for key, envelope in emitted.items():
        assert envelope["id"] == str(derived_event_id(event.id, key))
        assert envelope["tenant_id"] == str(seed.tenant.id)
        assert envelope["correlation_id"] == str(event.correlation_id)
    assert emitted["ticket.created"]["payload"]["number"] == 1
    assert emitted["ticket.created"]["payload"]["first_message_id"] == str(message.id)
    assert emitted["ticket.assigned"]["payload"]["assignee_id"] == str(seed.users["pat"].id)
    assert emitted["ticket.assigned"]["payload"]["rule"] == "primary"
    log_row = await router_log(sessions, event.id)
    assert (log_row.status, log_row.tenant_id) == ("routed", seed.tenant.id)


async def test_ticket_numbers_count_up_per_tenant(sessions: Sessions, blobs: BlobStore) -> None:
    """Each new ticket of a tenant takes the next number."""
    seed = await seed_tenant(sessions, [PRIMARY])
    for _ in range(3):
        await route_in_transaction(sessions, blobs, await parsed_to(seed, blobs))
    assert sorted(t.number for t in await tickets_of(sessions, seed)) == [1, 2, 3]


async def test_reply_by_in_reply_to_joins_ticket(sessions: Sessions, blobs: BlobStore) -> None:
    """A reply whose In-Reply-To names a stored message joins that ticket; nothing new is assigned."""
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await parsed_to(seed, blobs)
    await route_in_transaction(sessions, blobs, first)
    reply = await parsed_to(
        seed, blobs, in_reply_to=[first.payload.message_id], subject="Re: Printer on fire"
    )

    outcome = await route_in_transaction(sessions, blobs, reply)

    [ticket] = await tickets_of(sessions, seed)
    assert outcome.ticket_id == ticket.id
    assert ticket.message_count == 2
    assert [m.match_rule for m in await messages_of(sessions, seed)] == [
        "new-ticket",
        "in-reply-to",
    ]
    emitted = await outbox_caused_by(sessions, reply.id)
    assert set(emitted) == {"ticket.message_added"}
    assert emitted["ticket.message_added"]["payload"]["match_rule"] == "in-reply-to"


async def test_message_keeps_the_parsers_reply_text(sessions: Sessions, blobs: BlobStore) -> None:
    """The new text the parser cut from a reply is stored beside the whole text; a body
    document of an older parser, without it, stores an empty one."""
    seed = await seed_tenant(sessions, [PRIMARY])
    await route_in_transaction(sessions, blobs, await parsed_to(seed, blobs))
    whole = "Still broken.\n\nOn Monday Acme wrote:\n> It is on fire."
    body_ref = await store_body(blobs, text=whole, html=None, reply_text="Still broken.")
    reply = make_event(
        make_parsed(
            to=[Address(email=seed.address)],
            body_blob_ref=body_ref,
            message_id=f"{uuid.uuid4()}@customer.example",
            subject="Re: Printer on fire",
        )
    )

    await route_in_transaction(sessions, blobs, reply)

    first, second = await messages_of(sessions, seed)
    assert (first.text_body, first.reply_text) == ("It is on fire.", "")
    assert (second.text_body, second.reply_text) == (whole, "Still broken.")


async def test_reply_found_only_by_references_joins_ticket(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A reply whose In-Reply-To is unknown joins the ticket of its newest known reference."""
    seed = await seed_tenant(sessions, [PRIMARY])
    first = await parsed_to(seed, blobs)
    await route_in_transaction(sessions, blobs, first)
    reply = await parsed_to(
        seed,
        blobs,
        in_reply_to=["never-seen@elsewhere.example"],
        references=["older-unknown@x.example", first.payload.message_id, "also-unknown@x.example"],
    )

    outcome = await route_in_transaction(sessions, blobs, reply)

    [ticket] = await tickets_of(sessions, seed)
    assert outcome.ticket_id == ticket.id
    assert [m.match_rule for m in await messages_of(sessions, seed)] == ["new-ticket", "references"]


async def test_reply_in_another_tenant_does_not_join(sessions: Sessions, blobs: BlobStore) -> None:
    """Threading only looks at the receiving tenant's messages."""
    one, other = await seed_tenant(sessions, [PRIMARY]), await seed_tenant(sessions, [PRIMARY])
    first = await parsed_to(one, blobs)
    await route_in_transaction(sessions, blobs, first)
    await route_in_transaction(
        sessions, blobs, await parsed_to(other, blobs, in_reply_to=[first.payload.message_id])
    )
    [ticket] = await tickets_of(sessions, other)
    assert ticket.number == 1
    assert [m.match_rule for m in await messages_of(sessions, other)] == ["new-ticket"]


async def test_same_event_twice_has_effects_once(sessions: Sessions, blobs: BlobStore) -> None:
    """A redelivered mail.parsed leaves one ticket, one message and the same three outbox rows."""
    seed = await seed_tenant(sessions, [PRIMARY])
    event = await parsed_to(seed, blobs)
    await route_in_transaction(sessions, blobs, event)
    again = await route_in_transaction(sessions, blobs, event)

    assert again.status is RouteStatus.ALREADY_PROCESSED
    assert len(await tickets_of(sessions, seed)) == 1
    assert len(await messages_of(sessions, seed)) == 1
    assert len(await outbox_caused_by(sessions, event.id)) == 3


async def test_same_message_id_new_event_is_duplicate(sessions: Sessions, blobs: BlobStore) -> None:
    """The same Message-ID under another event id is logged as a duplicate and changes nothing."""
    seed = await seed_tenant(sessions, [PRIMARY])
    event = await parsed_to(seed, blobs)
    await route_in_transaction(sessions, blobs, event)
    copy = make_event(event.payload)

    outcome = await route_in_transaction(sessions, blobs, copy)

    assert outcome.status is RouteStatus.DUPLICATE
    assert len(await messages_of(sessions, seed)) == 1
    [ticket] = await tickets_of(sessions, seed)
    assert ticket.message_count == 1
    assert await outbox_caused_by(sessions, copy.id) == {}
    log_row = await router_log(sessions, copy.id)
    assert (log_row.status, log_row.tenant_id) == ("duplicate", seed.tenant.id)


async def test_concurrent_copies_create_one_ticket(sessions: Sessions, blobs: BlobStore) -> None:
    """Two copies of one email routed at once (two replicas) give one ticket and one message."""
    seed = await seed_tenant(sessions, [PRIMARY])
    event = await parsed_to(seed, blobs)
    copies = [event, make_event(event.payload), make_event(event.payload)]

    outcomes = await asyncio.gather(*(route_in_transaction(sessions, blobs, c) for c in copies))

    assert sorted(o.status for o in outcomes) == ["duplicate", "duplicate", "routed"]
    assert len(await tickets_of(sessions, seed)) == 1
    assert len(await messages_of(sessions, seed)) == 1


async def test_unknown_recipient_is_rejected(sessions: Sessions, blobs: BlobStore) -> None:
    """Mail for no active account gets a rejected log row and a mail.rejected event, no ticket."""
    event = make_event(
        make_parsed(to=[Address(email=f"nobody-{uuid.uuid4().hex}@nowhere.example")])
    )

    outcome = await route_in_transaction(sessions, blobs, event)

    assert outcome.status is RouteStatus.REJECTED
    emitted = await outbox_caused_by(sessions, event.id)
    assert set(emitted) == {"mail.rejected"}
    rejected = emitted["mail.rejected"]
    assert rejected["id"] == str(derived_event_id(event.id, "mail.rejected"))
    assert rejected["payload"]["stage"] == "router"
    assert rejected["payload"]["raw_blob_ref"] == event.payload.raw_blob_ref
    assert "no active email account" in rejected["payload"]["reason"]
    log_row = await router_log(sessions, event.id)
    assert (log_row.status, log_row.tenant_id) == ("rejected", None)
    assert log_row.detail == rejected["payload"]["reason"]
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(col(Message.message_id_header) == event.payload.message_id)
        )
    assert count == 0


async def test_inactive_account_is_unknown(sessions: Sessions, blobs: BlobStore) -> None:
    """A deactivated account no longer receives mail."""
    seed = await seed_tenant(sessions, [PRIMARY])
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE email_accounts SET is_active = false WHERE id = :id").bindparams(
                id=seed.account.id
            )
        )
    outcome = await route_in_transaction(sessions, blobs, await parsed_to(seed, blobs))
    assert outcome.status is RouteStatus.REJECTED


async def test_inactive_primary_falls_back_to_lowest_backup(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """With the primary's assignment inactive, the backup with the lowest priority gets the ticket."""
    seed = await seed_tenant(
        sessions, [("pat", AssignmentRole.PRIMARY, 0, False, True), BACKUP_2, BACKUP_1, VIEWER]
    )
    event = await parsed_to(seed, blobs)
    await route_in_transaction(sessions, blobs, event)

    [ticket] = await tickets_of(sessions, seed)
    assert (ticket.assignee_id, ticket.assignment_rule) == (seed.users["bea"].id, "backup")
    assigned = (await outbox_caused_by(sessions, event.id))["ticket.assigned"]
    assert assigned["payload"]["rule"] == "backup"
    assert assigned["payload"]["assignee_id"] == str(seed.users["bea"].id)


async def test_primary_with_inactive_user_falls_back(sessions: Sessions, blobs: BlobStore) -> None:
    """A primary whose user is deactivated is skipped too."""
    seed = await seed_tenant(sessions, [("pat", AssignmentRole.PRIMARY, 0, True, False), BACKUP_2])
    await route_in_transaction(sessions, blobs, await parsed_to(seed, blobs))
    [ticket] = await tickets_of(sessions, seed)
    assert ticket.assignee_id == seed.users["bob"].id


async def test_only_viewer_leaves_ticket_unassigned(sessions: Sessions, blobs: BlobStore) -> None:
    """A mailbox with only a viewer opens an unassigned ticket and emits no ticket.assigned."""
    seed = await seed_tenant(sessions, [VIEWER])
    event = await parsed_to(seed, blobs)
    await route_in_transaction(sessions, blobs, event)

    [ticket] = await tickets_of(sessions, seed)
    assert (ticket.assignee_id, ticket.assignment_rule) == (None, "")
    assert set(await outbox_caused_by(sessions, event.id)) == {
        "ticket.created",
        "ticket.message_added",
    }


async def test_nul_characters_do_not_break_storage(sessions: Sessions, blobs: BlobStore) -> None:
    """A body, subject and names with NUL characters are stored without them."""
    seed = await seed_tenant(sessions, [PRIMARY])
    body_ref = await store_body(blobs, text="on\x00fire", html="<p>\x00</p>")
    event = make_event(
        make_parsed(
            to=[Address(name="C\x00S", email=seed.address)],
            from_=Address(name="Ca\x00rol", email="carol@customer.example"),
            subject="Print\x00er",
            body_blob_ref=body_ref,
        )
    )
    assert (await route_in_transaction(sessions, blobs, event)).status is RouteStatus.ROUTED
    [message] = await messages_of(sessions, seed)
    assert (message.text_body, message.html_body, message.subject) == (
        "onfire",
        "<p></p>",
        "Printer",
    )
    assert (message.from_name, message.to[0]["name"]) == ("Carol", "CS")
