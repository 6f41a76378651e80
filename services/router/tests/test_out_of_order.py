"""Any arrival order, on the real PostgreSQL: a reply routed before its parent ends on the
parent's ticket (the reply's provisional ticket is merged, its row kept as history)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from postdesk_contracts import Address, Envelope, MailParsed
from postdesk_parser.domain import parse_mail
from postdesk_router.service import RouteStatus, route_in_transaction
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import Message, Ticket
from sqlalchemy import update
from sqlmodel import col

from .factories import Seed, make_event, make_parsed, seed_tenant, store_body
from .test_service import PRIMARY, messages_of, parsed_to, router_log, tickets_of

pytestmark = pytest.mark.integration

CORPUS_GENERATOR = Path("/work/shared/bench-corpus/gen_corpus.py")
SHUFFLE_SEED = 20240305


def live(tickets: list[Ticket]) -> list[Ticket]:
    return [t for t in tickets if t.merged_into_id is None]


async def route(sessions: Sessions, blobs: BlobStore, event: Envelope[MailParsed]) -> uuid.UUID:
    outcome = await route_in_transaction(sessions, blobs, event)
    assert outcome.status is RouteStatus.ROUTED
    assert outcome.ticket_id is not None
    return outcome.ticket_id


async def test_reply_first_then_parent_gives_one_ticket(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A reply routed before its parent is merged into the parent's ticket when the parent comes."""
    seed = await seed_tenant(sessions, [PRIMARY])
    parent_id = f"{uuid.uuid4().hex}@customer.example"
    reply = await parsed_to(
        seed, blobs, in_reply_to=[parent_id], references=[parent_id], subject="Re: Printer"
    )
    parent = await parsed_to(seed, blobs, message_id=parent_id, subject="Printer")

    provisional = await route(sessions, blobs, reply)
    outcome = await route_in_transaction(sessions, blobs, parent)

    assert outcome.merged == (provisional,)
    tickets = {t.id: t for t in await tickets_of(sessions, seed)}
    [survivor] = live(list(tickets.values()))
    assert survivor.id == outcome.ticket_id != provisional
    assert survivor.subject == "Printer"
    assert survivor.message_count == 2
    absorbed = tickets[provisional]
    assert absorbed.merged_into_id == survivor.id
    assert absorbed.status == "closed"
    assert absorbed.message_count == 0
    messages = await messages_of(sessions, seed)
    assert {m.ticket_id for m in messages} == {survivor.id}
    # the early reply keeps the rule that placed it; the ticket row says where it went
    assert sorted(m.match_rule for m in messages) == ["new-ticket", "new-ticket"]
    detail = (await router_log(sessions, parent.id)).detail
    assert f"merged early replies' tickets #{absorbed.number}" in detail


async def test_chain_delivered_backwards_gives_one_ticket(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A <- B <- C delivered C, B, A ends as one open ticket holding all three."""
    seed = await seed_tenant(sessions, [PRIMARY])
    a, b, c = (f"{name}-{uuid.uuid4().hex}@customer.example" for name in "abc")
    mail_a = await parsed_to(seed, blobs, message_id=a)
    mail_b = await parsed_to(seed, blobs, message_id=b, in_reply_to=[a], references=[a])
    mail_c = await parsed_to(seed, blobs, message_id=c, in_reply_to=[b], references=[a, b])

    ticket_c = await route(sessions, blobs, mail_c)
    ticket_b = await route(sessions, blobs, mail_b)
    ticket_a = await route(sessions, blobs, mail_a)

    assert len({ticket_a, ticket_b, ticket_c}) == 3
    tickets = {t.id: t for t in await tickets_of(sessions, seed)}
    [survivor] = live(list(tickets.values()))
    assert survivor.id == ticket_a
    assert survivor.message_count == 3
    assert tickets[ticket_c].merged_into_id == ticket_b  # history: C was first merged into B
    assert tickets[ticket_b].merged_into_id == ticket_a
    assert {m.ticket_id for m in await messages_of(sessions, seed)} == {ticket_a}


async def test_reply_to_a_merged_ticket_follows_the_merge(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A join that finds its parent on a merged ticket (a stale read) lands on the survivor."""
    seed = await seed_tenant(sessions, [PRIMARY])
    parent_id = f"{uuid.uuid4().hex}@customer.example"
    early = await parsed_to(seed, blobs, in_reply_to=[parent_id])
    provisional = await route(sessions, blobs, early)
    survivor = await route(sessions, blobs, await parsed_to(seed, blobs, message_id=parent_id))
    async with sessions() as session, session.begin():  # the state a concurrent reader may see
        await session.execute(
            update(Message)
            .where(col(Message.message_id_header) == early.payload.message_id)
            .values(ticket_id=provisional)
        )

    late = await parsed_to(seed, blobs, in_reply_to=[early.payload.message_id])
    assert await route(sessions, blobs, late) == survivor


async def test_parent_and_reply_at_once_never_split(sessions: Sessions, blobs: BlobStore) -> None:
    """A parent and its reply routed at the same moment by two replicas end on one ticket."""
    for _ in range(20):
        seed = await seed_tenant(sessions, [PRIMARY])
        parent_id = f"{uuid.uuid4().hex}@customer.example"
        parent = await parsed_to(seed, blobs, message_id=parent_id)
        reply = await parsed_to(seed, blobs, in_reply_to=[parent_id], references=[parent_id])

        await asyncio.gather(
            route_in_transaction(sessions, blobs, reply),
            route_in_transaction(sessions, blobs, parent),
        )

        [survivor] = live(await tickets_of(sessions, seed))
        assert survivor.message_count == 2
        assert {m.ticket_id for m in await messages_of(sessions, seed)} == {survivor.id}


def corpus_events(out: Path, seed: Seed, body_ref: str) -> tuple[list[Any], list[MailParsed]]:
    """The seeded bench corpus (300 messages) parsed by the parser, addressed to `seed`."""
    subprocess.run(
        [sys.executable, str(CORPUS_GENERATOR), "--out", str(out), "--count", "300"],
        check=True,
        capture_output=True,
    )
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    start = datetime(2024, 3, 4, tzinfo=UTC)
    mails = []
    for index, entry in enumerate(manifest):
        parsed = parse_mail((out / "msgs" / entry["file"]).read_bytes())
        mails.append(
            make_parsed(
                message_id=parsed.message_id,
                in_reply_to=parsed.in_reply_to,
                references=parsed.references,
                subject=parsed.subject,
                from_=parsed.from_,
                to=[Address(email=seed.address)],
                cc=parsed.cc,  # Cc'd colleagues are participants who may reply later
                body_blob_ref=body_ref,
                received_at=start + timedelta(minutes=index),
            )
        )
    return manifest, mails


@pytest.mark.skipif(not CORPUS_GENERATOR.exists(), reason="bench corpus generator not present")
async def test_shuffled_corpus_puts_every_reply_on_its_threads_ticket(
    sessions: Sessions, blobs: BlobStore, tmp_path: Path
) -> None:
    """The bench corpus routed in a shuffled order: every message ends on its thread root's ticket."""
    seed = await seed_tenant(sessions, [PRIMARY])
    manifest, mails = corpus_events(tmp_path, seed, await store_body(blobs))
    strip = str.maketrans("", "", "<>")
    for entry, mail in zip(manifest, mails, strict=True):
        assert mail.message_id == entry["message_id"].translate(strip)
    order = list(range(len(mails)))
    random.Random(SHUFFLE_SEED).shuffle(order)
    early = sum(
        1
        for position, index in enumerate(order)
        if manifest[index]["parent_file"] is not None
        and order.index(int(manifest[index]["parent_file"].removesuffix(".eml"))) > position
    )

    for index in order:
        await route(sessions, blobs, make_event(mails[index]))

    ticket_of = {m.message_id_header: m.ticket_id for m in await messages_of(sessions, seed)}
    replies = [e for e in manifest if e["in_reply_to"] is not None]
    right = [
        e
        for e in replies
        if ticket_of[e["message_id"].translate(strip)] == ticket_of[e["root"].translate(strip)]
    ]
    print(
        f"shuffled corpus: {len(right)} of {len(replies)} replies on the right ticket "
        f"({early} routed before their parent)"
    )
    assert early > 0
    assert len(right) == len(replies)
    roots = Counter(e["root"] for e in manifest)
    tickets = await tickets_of(sessions, seed)
    assert len(live(tickets)) == len(roots)
    assert sorted(t.message_count for t in live(tickets)) == sorted(roots.values())
