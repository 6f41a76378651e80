"""Two postdesk tenants that auto-reply to each other stop within a small bounded number of
mails, on the real parser, router, database and composer.

Tenant A's account writes to tenant B's account. Each mail is carried by a transport,
parsed by the parser's use case as received by the other tenant, and routed by the router
(which decides on the auto-reply); each auto-reply the router requests through its outbox is
composed into bytes as the outbound service will send it, and carried back. The loop runs
until a routed mail requests no automatic mail.

Transports, from honest to hostile:
- direct: the mail arrives as sent;
- a masking relay (as marketplaces use) shows each side under an alias of its own and drops
  Reply-To, so neither From is a postdesk address, but keeps every other field;
- a hostile relay masks too, and strips Auto-Submitted and the other RFC 3834 fields, the
  threading fields and the ticket tags, and gives every mail a new Message-ID: each mail looks
  like a person's first mail, so only the per-address window and the caps can stop the loop.
"""

from __future__ import annotations

import email
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any

import pytest
from postdesk_contracts import (
    Address,
    Envelope,
    EventType,
    MailParsed,
    MailReceived,
    OutboundRequested,
    new_envelope,
)
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.events import Channel
from postdesk_outbound.compose import compose
from postdesk_parser.service import Ports, handle_mail_received
from postdesk_router.service import RouteStatus, route_in_transaction
from postdesk_runtime import BlobStore, Sessions, ThreadTokens
from postdesk_runtime.broker import EventPublisher
from postdesk_runtime.keyring import Keyring
from postdesk_schema import EmailAccount, OutboxEvent, TicketHistory
from sqlalchemy import select
from sqlmodel import col

from .factories import Seed, seed_tenant
from .test_autoreply_db import automatic_mails, enable_auto_reply

pytestmark = pytest.mark.integration

TOKENS = ThreadTokens.from_keyring(Keyring([("k", b"k" * 32)]))
MAX_HOPS = 200  # far beyond any bound asserted below: a loop that does not stop fails
RFC_3834_FIELDS = (
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "Precedence",
    "X-Autoreply",
    "X-Autorespond",
    "Reply-To",
)
THREADING_FIELDS = ("In-Reply-To", "References", "Thread-Index", "Thread-Topic")
_TAG = re.compile(r"\s*\[\s*(?:ticket\s*)?#\s*\d+\s*\]", re.IGNORECASE)


class _NoBroker(EventPublisher):
    """The parser's use case publishes its outcome; the loop routes the returned one instead."""

    def __init__(self) -> None:
        pass

    async def publish(self, envelope: Envelope[Any]) -> None:
        return None


@dataclass
class Transport:
    """Carries a mail to the postdesk account it is for, rewriting it on the way."""

    aliases: dict[str, str] = field(default_factory=dict)  # real address -> shown address
    hostile: bool = False

    def carry(self, raw: bytes) -> tuple[bytes, str]:
        """The bytes delivered, and the account address they are delivered to."""
        message = email.message_from_bytes(raw, policy=policy.SMTP)
        assert isinstance(message, EmailMessage)
        [(_, to)] = getaddresses([str(message["To"])])
        real = {shown: address for address, shown in self.aliases.items()}
        recipient = real.get(to.lower(), to.lower())
        if self.aliases:
            [(name, sender)] = getaddresses([str(message["From"])])
            message.replace_header("From", f"{name} <{self.aliases[sender.lower()]}>")
            del message["Reply-To"]
        if self.hostile:
            for name in (*RFC_3834_FIELDS, *THREADING_FIELDS):
                del message[name]
            message.replace_header("Message-ID", f"<{uuid.uuid4().hex}@relay.example>")
            message.replace_header("Subject", _TAG.sub("", str(message["Subject"])))
        return message.as_bytes(), recipient


@dataclass(frozen=True)
class Hop:
    """One mail routed: to which tenant, and what the router decided about an auto-reply."""

    receiver: str
    decision: tuple[str, str] | None  # (rule, detail) of the auto-reply history, if any
    request: OutboundRequested | None


@dataclass
class Loop:
    sessions: Sessions
    blobs: BlobStore
    a: Seed
    b: Seed
    transport: Transport
    hops: list[Hop] = field(default_factory=list)
    sent_bytes: list[bytes] = field(default_factory=list)

    def name(self, seed: Seed) -> str:
        return "A" if seed is self.a else "B"

    def other(self, address: str) -> Seed:
        return self.a if address == self.b.address else self.b

    async def run(self) -> list[Hop]:
        raw = first_mail(self.a, self.b)
        for _ in range(MAX_HOPS):
            carried, recipient = self.transport.carry(raw)
            receiver = self.b if recipient == self.b.address else self.a
            assert recipient == receiver.address
            hop = await self.deliver(receiver, carried)
            self.hops.append(hop)
            if hop.request is None:
                return self.hops
            raw = await self.send(receiver, hop.request)
        raise AssertionError(f"the loop did not stop within {MAX_HOPS} mails")

    async def deliver(self, receiver: Seed, raw: bytes) -> Hop:
        parsed = await parse(self.sessions, self.blobs, raw, receiver.address)
        before = await auto_reply_decisions(self.sessions, receiver)
        outcome = await route_in_transaction(self.sessions, self.blobs, parsed, tokens=TOKENS)
        assert outcome.status is RouteStatus.ROUTED
        decisions = await auto_reply_decisions(self.sessions, receiver)
        new = [d for key, d in decisions.items() if key not in before]
        assert len(new) <= 1
        return Hop(
            self.name(receiver), new[0] if new else None, await requested(self.sessions, parsed)
        )

    async def send(self, sender: Seed, request: OutboundRequested) -> bytes:
        """The bytes the outbound service sends for the request, from the sender's account."""
        async with self.sessions() as session:
            account = await session.get(EmailAccount, request.account_id)
        assert account is not None
        assert account.tenant_id == sender.tenant.id
        raw = compose(
            request, from_address=Address(name=account.display_name, email=account.address)
        ).as_bytes()
        self.sent_bytes.append(raw)
        return raw


def first_mail(a: Seed, b: Seed) -> bytes:
    """A person at tenant A writes to tenant B's account."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = f"Alice at A <{a.address}>"
    message["To"] = b.address
    message["Subject"] = "Partnership proposal"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{a.address.split('@')[1]}>"
    message.set_content("Hello B, shall we work together?\n")
    return message.as_bytes()


async def parse(
    sessions: Sessions, blobs: BlobStore, raw: bytes, recipient: str
) -> Envelope[MailParsed]:
    """The parser's use case on `raw` as received over SMTP for `recipient`."""
    received = new_envelope(
        EventType.MAIL_RECEIVED,
        MailReceived(
            raw_blob_ref=await blobs.put(raw),
            sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            channel=Channel.SMTP,
            envelope_recipients=[recipient],
            received_at=datetime.now(UTC),
            source="smtp",
        ),
    )
    outcome = await handle_mail_received(received, Ports(blobs, sessions, _NoBroker()))
    assert outcome.type is EventType.MAIL_PARSED, outcome
    return Envelope[MailParsed].model_validate_json(outcome.model_dump_json(by_alias=True))


async def auto_reply_decisions(sessions: Sessions, seed: Seed) -> dict[uuid.UUID, tuple[str, str]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketHistory).where(
                col(TicketHistory.tenant_id) == seed.tenant.id,
                col(TicketHistory.kind) == "auto_reply",
            )
        )
        return {r.id: (r.rule, r.detail) for r in rows}


async def requested(sessions: Sessions, event: Envelope[MailParsed]) -> OutboundRequested | None:
    event_id = derived_event_id(event.id, EventType.OUTBOUND_REQUESTED.value)
    async with sessions() as session:
        row = await session.get(OutboxEvent, event_id)
    if row is None:
        return None
    return Envelope[OutboundRequested].model_validate_json(row.body).payload


async def tenants(sessions: Sessions, **settings: Any) -> tuple[Seed, Seed]:
    """Tenants A and B, each with an account that auto-replies always."""
    a, b = await seed_tenant(sessions), await seed_tenant(sessions)
    for seed, name in ((a, "A"), (b, "B")):
        await enable_auto_reply(
            sessions,
            seed.account.id,
            auto_reply_schedule="always",
            display_name=f"Tenant {name} Support",
            **settings,
        )
    return a, b


def relay(a: Seed, b: Seed, *, hostile: bool) -> Transport:
    suffix = uuid.uuid4().hex[:8]
    return Transport(
        aliases={a.address: f"a-{suffix}@relay.example", b.address: f"b-{suffix}@relay.example"},
        hostile=hostile,
    )


async def test_direct_mail_from_a_postdesk_address_is_never_answered(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Tenant B recognises tenant A's account address as postdesk's: no automatic mail."""
    a, b = await tenants(sessions)

    hops = await Loop(sessions, blobs, a, b, Transport()).run()

    assert hops == [
        Hop("B", ("suppressed", f"address answered {a.address} is a postdesk address"), None)
    ]
    assert await automatic_mails(sessions, a) == await automatic_mails(sessions, b) == []


async def test_masking_relay_loop_stops_at_auto_submitted(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Behind aliases B answers once; A sees Auto-Submitted on B's answer and stays quiet."""
    a, b = await tenants(sessions)
    loop = Loop(sessions, blobs, a, b, relay(a, b, hostile=False))

    hops = await loop.run()

    assert [(h.receiver, h.request is not None) for h in hops] == [("B", True), ("A", False)]
    assert hops[1].decision is not None
    rule, detail = hops[1].decision
    assert rule == "suppressed"
    assert detail.startswith("mail is auto_reply (auto-submitted: auto-replied")
    [sent] = loop.sent_bytes
    assert b"\r\nAuto-Submitted: auto-replied\r\n" in sent
    assert len(await automatic_mails(sessions, b)) == 1
    assert await automatic_mails(sessions, a) == []


async def test_hostile_relay_loop_stops_at_the_per_address_window(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Every header that could stop it stripped: each side answers the other's alias once,
    then B's window for A's alias stops the loop. Two automatic mails in all."""
    a, b = await tenants(sessions)
    transport = relay(a, b, hostile=True)

    hops = await Loop(sessions, blobs, a, b, transport).run()

    assert [(h.receiver, h.request is not None) for h in hops] == [
        ("B", True),
        ("A", True),
        ("B", False),
    ]
    alias_of_a = transport.aliases[a.address]
    assert hops[2].decision == (
        "suppressed",
        f"already auto-replied to {alias_of_a} within 1440 minutes",
    )
    assert [m.recipient for m in await automatic_mails(sessions, b)] == [alias_of_a]
    assert [m.recipient for m in await automatic_mails(sessions, a)] == [
        transport.aliases[b.address]
    ]


async def test_hostile_relay_without_window_stops_at_the_per_address_cap(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Windows turned off as well: every mail opens a new ticket, so only the per-address cap
    is left, and it stops the loop after 20 automatic mails per side."""
    a, b = await tenants(sessions, auto_reply_window_minutes=0)

    hops = await Loop(sessions, blobs, a, b, relay(a, b, hostile=True)).run()

    assert len(hops) == 41
    assert [h.request is not None for h in hops] == [True] * 40 + [False]
    assert hops[-1].receiver == "B"
    assert hops[-1].decision == (
        "suppressed",
        "cap reached: 20 automatic mails per address in 1 hour",
    )
    assert len(await automatic_mails(sessions, a)) == len(await automatic_mails(sessions, b)) == 20
