"""Who may add to a ticket, against the real PostgreSQL: participants join, strangers open a
new ticket linked to the one they matched; the subject tag matches only after threading."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from postdesk_contracts import Address, Envelope, MailParsed
from postdesk_router.service import RouteOutcome, RouteStatus, route_in_transaction
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import AssignmentRole, Message, Ticket, User
from sqlalchemy import select, update
from sqlmodel import col

from .factories import Seed, make_event, make_parsed, seed_tenant, store_body

pytestmark = pytest.mark.integration

PRIMARY = ("pat", AssignmentRole.PRIMARY, 0, True, True)
CAROL = Address(name="Carol Customer", email="carol@customer.example")
MALLORY = Address(name="Mallory", email="mallory@stranger.example")


async def mail_to(seed: Seed, blobs: BlobStore, **overrides: Any) -> Envelope[MailParsed]:
    overrides.setdefault("from_", CAROL)
    return make_event(
        make_parsed(
            to=[Address(email=seed.address)], body_blob_ref=await store_body(blobs), **overrides
        )
    )


async def route(sessions: Sessions, blobs: BlobStore, event: Envelope[MailParsed]) -> RouteOutcome:
    outcome = await route_in_transaction(sessions, blobs, event)
    assert outcome.status is RouteStatus.ROUTED
    return outcome


async def ticket(sessions: Sessions, ticket_id: uuid.UUID | None) -> Ticket:
    async with sessions() as session:
        found = await session.get(Ticket, ticket_id)
        assert found is not None
        return found


async def match_rule(sessions: Sessions, message_id: uuid.UUID | None) -> str:
    async with sessions() as session:
        found = await session.get(Message, message_id)
        assert found is not None
        return found.match_rule


async def opened_by_carol(
    sessions: Sessions, blobs: BlobStore, seed: Seed, **overrides: Any
) -> tuple[Envelope[MailParsed], Ticket]:
    first = await mail_to(seed, blobs, subject="Printer on fire", **overrides)
    return first, await ticket(sessions, (await route(sessions, blobs, first)).ticket_id)


async def test_stranger_with_the_right_subject_tag_opens_a_linked_ticket(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A stranger naming ticket #N in the subject gets a new ticket linked to #N, not a seat on it."""
    seed = await seed_tenant(sessions, [PRIMARY])
    _, original = await opened_by_carol(sessions, blobs, seed)
    tagged = await mail_to(
        seed,
        blobs,
        from_=MALLORY,
        subject=f"Re: [#{original.number}] Printer on fire",
        ticket_tag=str(original.number),
    )

    outcome = await route(sessions, blobs, tagged)

    linked = await ticket(sessions, outcome.ticket_id)
    assert linked.id != original.id
    assert linked.linked_ticket_id == original.id
    assert linked.customer_email == MALLORY.email
    assert linked.number == original.number + 1
    assert await match_rule(sessions, outcome.message_id) == (
        "linked:subject-tag:sender-not-participant"
    )
    after = await ticket(sessions, original.id)
    assert (after.message_count, after.customer_email) == (1, CAROL.email)


async def test_customer_with_only_the_subject_tag_joins(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """The customer's mail with no threading headers joins the ticket its subject tag names."""
    seed = await seed_tenant(sessions, [PRIMARY])
    _, original = await opened_by_carol(sessions, blobs, seed)
    tagged = await mail_to(
        seed,
        blobs,
        from_=Address(email="CAROL@customer.example"),
        subject=f"[#{original.number}] still burning",
        ticket_tag=str(original.number),
    )

    outcome = await route(sessions, blobs, tagged)

    assert outcome.ticket_id == original.id
    assert await match_rule(sessions, outcome.message_id) == "subject-tag"
    assert (await ticket(sessions, original.id)).message_count == 2


async def test_threading_headers_win_over_the_subject_tag(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A subject tag is tried only when In-Reply-To and References match nothing stored."""
    seed = await seed_tenant(sessions, [PRIMARY])
    first, original = await opened_by_carol(sessions, blobs, seed)
    _, other = await opened_by_carol(sessions, blobs, seed)
    reply = await mail_to(
        seed, blobs, in_reply_to=[first.payload.message_id], ticket_tag=str(other.number)
    )

    outcome = await route(sessions, blobs, reply)

    assert outcome.ticket_id == original.id
    assert await match_rule(sessions, outcome.message_id) == "in-reply-to"


async def test_subject_tag_of_unknown_or_merged_ticket(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A tag naming no ticket of the tenant opens a new one; a merged ticket's tag reaches the
    ticket it was merged into."""
    seed = await seed_tenant(sessions, [PRIMARY])
    unknown = await mail_to(seed, blobs, ticket_tag="999999")
    assert await match_rule(sessions, (await route(sessions, blobs, unknown)).message_id) == (
        "new-ticket"
    )
    parent_id = f"{uuid.uuid4().hex}@customer.example"
    early = await route(sessions, blobs, await mail_to(seed, blobs, in_reply_to=[parent_id]))
    parent = await route(sessions, blobs, await mail_to(seed, blobs, message_id=parent_id))
    assert parent.merged == (early.ticket_id,)
    merged_number = (await ticket(sessions, early.ticket_id)).number

    outcome = await route(
        sessions, blobs, await mail_to(seed, blobs, ticket_tag=str(merged_number))
    )

    assert outcome.ticket_id == parent.ticket_id
    assert await match_rule(sessions, outcome.message_id) == "subject-tag"


async def test_ccd_contact_replying_joins_and_customer_stays(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Someone Cc'd on a message of the ticket may reply into it; the customer does not change."""
    seed = await seed_tenant(sessions, [PRIMARY])
    colleague = Address(name="Dave", email="dave@customer.example")
    first, original = await opened_by_carol(sessions, blobs, seed, cc=[colleague])
    reply = await mail_to(seed, blobs, from_=colleague, in_reply_to=[first.payload.message_id])

    outcome = await route(sessions, blobs, reply)

    assert outcome.ticket_id == original.id
    assert await match_rule(sessions, outcome.message_id) == "in-reply-to"
    after = await ticket(sessions, original.id)
    assert (after.message_count, after.customer_email) == (2, CAROL.email)


async def test_staff_replying_joins(sessions: Sessions, blobs: BlobStore) -> None:
    """Active users of the tenant (login or company address) are participants of every ticket."""
    seed = await seed_tenant(sessions, [PRIMARY])
    pat = seed.users["pat"]
    company = f"pat.{uuid.uuid4().hex[:8]}@acme-corp.example"
    async with sessions() as session, session.begin():
        await session.execute(
            update(User).where(col(User.id) == pat.id).values(company_email=company)
        )
    first, original = await opened_by_carol(sessions, blobs, seed)

    for sender in (pat.email, company):
        reply = await mail_to(
            seed, blobs, from_=Address(email=sender), in_reply_to=[first.payload.message_id]
        )
        outcome = await route(sessions, blobs, reply)
        assert outcome.ticket_id == original.id
    after = await ticket(sessions, original.id)
    assert (after.message_count, after.customer_email) == (3, CAROL.email)


async def test_inactive_staff_of_the_tenant_is_a_stranger(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A deactivated user's reply does not join; neither does staff of another tenant."""
    seed = await seed_tenant(sessions, [("ina", AssignmentRole.BACKUP, 1, True, False)])
    other = await seed_tenant(sessions, [PRIMARY])
    first, original = await opened_by_carol(sessions, blobs, seed)

    for sender in (seed.users["ina"].email, other.users["pat"].email):
        reply = await mail_to(
            seed, blobs, from_=Address(email=sender), in_reply_to=[first.payload.message_id]
        )
        linked = await ticket(sessions, (await route(sessions, blobs, reply)).ticket_id)
        assert linked.linked_ticket_id == original.id


async def test_stranger_replying_to_an_inbound_message_opens_a_linked_ticket(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A stranger's (say BCC'd) In-Reply-To to the customer's mail opens a linked ticket."""
    seed = await seed_tenant(sessions, [PRIMARY])
    first, original = await opened_by_carol(sessions, blobs, seed)
    reply = await mail_to(
        seed,
        blobs,
        from_=MALLORY,
        in_reply_to=[first.payload.message_id],
        references=[first.payload.message_id],
    )

    outcome = await route(sessions, blobs, reply)

    linked = await ticket(sessions, outcome.ticket_id)
    assert (linked.linked_ticket_id, linked.customer_email) == (original.id, MALLORY.email)
    assert await match_rule(sessions, outcome.message_id) == (
        "linked:in-reply-to:sender-not-participant"
    )
    async with sessions() as session:
        on_original = await session.scalars(
            select(Message.from_email).where(col(Message.ticket_id) == original.id)
        )
        assert list(on_original) == [CAROL.email]
    after = await ticket(sessions, original.id)
    assert (after.message_count, after.customer_email) == (1, CAROL.email)


async def test_strangers_early_reply_is_not_merged_into_the_parents_ticket(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A stranger's reply routed before its parent stays on its own ticket, linked to the parent's."""
    seed = await seed_tenant(sessions, [PRIMARY])
    parent_id = f"{uuid.uuid4().hex}@customer.example"
    early = await route(
        sessions,
        blobs,
        await mail_to(seed, blobs, from_=MALLORY, in_reply_to=[parent_id], references=[parent_id]),
    )

    parent = await route(sessions, blobs, await mail_to(seed, blobs, message_id=parent_id))

    assert parent.merged == ()
    apart = await ticket(sessions, early.ticket_id)
    assert (apart.merged_into_id, apart.linked_ticket_id) == (None, parent.ticket_id)
    assert (apart.message_count, apart.customer_email) == (1, MALLORY.email)
    survivor = await ticket(sessions, parent.ticket_id)
    assert (survivor.message_count, survivor.customer_email) == (1, CAROL.email)


async def test_ccd_contacts_early_reply_is_merged_when_the_parent_arrives(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """An early reply from someone the parent Cc'd is merged into the parent's ticket."""
    seed = await seed_tenant(sessions, [PRIMARY])
    colleague = Address(name="Dave", email="dave@customer.example")
    parent_id = f"{uuid.uuid4().hex}@customer.example"
    early = await route(
        sessions, blobs, await mail_to(seed, blobs, from_=colleague, in_reply_to=[parent_id])
    )

    parent = await route(
        sessions, blobs, await mail_to(seed, blobs, message_id=parent_id, cc=[colleague])
    )

    assert parent.merged == (early.ticket_id,)
    survivor = await ticket(sessions, parent.ticket_id)
    assert (survivor.message_count, survivor.customer_email) == (2, CAROL.email)
