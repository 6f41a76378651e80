"""Auto-replies on the real PostgreSQL: requested once per address per window, never to
automatic or imported mail or to postdesk's own addresses, within the caps, and once only
when two replicas race.

Tickets are opened by routing with auto-reply still off; `maybe_auto_reply` is then called
for mails on them at chosen moments, so windows and caps are exact.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from postdesk_contracts import (
    Address,
    BounceReport,
    Envelope,
    EventType,
    MailClassification,
    MailParsed,
    OutboundRequested,
)
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.events import MailKind
from postdesk_router.autoreply import DEFAULT_CAPS, Cap, CapScope
from postdesk_router.autoreply_db import AutoReplyOutcome, maybe_auto_reply
from postdesk_router.service import RouteStatus, route_in_transaction
from postdesk_runtime import BlobStore, Sessions, ThreadTokens
from postdesk_runtime.keyring import Keyring
from postdesk_schema import (
    AutomaticMail,
    EmailAccount,
    InboundAddress,
    InboundDomain,
    OutboxEvent,
    Ticket,
    TicketHistory,
)
from postdesk_testing import eventually
from sqlalchemy import select, text, update
from sqlmodel import col

from .factories import Seed, make_event, make_parsed, seed_tenant
from .test_service import parsed_to

pytestmark = pytest.mark.integration

TOKENS = ThreadTokens.from_keyring(Keyring([("k", b"k" * 32)]))
# Tuesday 5 March 2024, 20:00 in Berlin: outside the working hours used below
T0 = datetime(2024, 3, 5, 19, 0, tzinfo=UTC)
CAROL = Address(name="Carol Customer", email="carol@customer.example")
BERLIN_HOURS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


@dataclass(frozen=True)
class OpenTicket:
    id: uuid.UUID
    number: int
    subject: str


async def enable_auto_reply(sessions: Sessions, account_id: uuid.UUID, **settings: Any) -> None:
    values: dict[str, Any] = {
        "auto_reply_enabled": True,
        "auto_reply_message": "Thanks, we got your mail and answer within a day.",
        "signature": "Acme Support\nhttps://acme.example",
        "display_name": "Acme Support",
        **settings,
    }
    async with sessions() as session, session.begin():
        await session.execute(
            update(EmailAccount).where(col(EmailAccount.id) == account_id).values(**values)
        )


async def open_ticket(
    sessions: Sessions, blobs: BlobStore, seed: Seed, **overrides: Any
) -> OpenTicket:
    """Route a mail to `seed` (auto-reply still off) and return its ticket."""
    outcome = await route_in_transaction(sessions, blobs, await parsed_to(seed, blobs, **overrides))
    assert outcome.status is RouteStatus.ROUTED
    async with sessions() as session:
        ticket = (
            await session.scalars(select(Ticket).where(col(Ticket.id) == outcome.ticket_id))
        ).one()
    return OpenTicket(ticket.id, ticket.number, ticket.subject)


def mail_to(seed: Seed, **overrides: Any) -> Envelope[MailParsed]:
    return make_event(make_parsed(to=[Address(email=seed.address)], **overrides))


async def auto_reply(
    sessions: Sessions,
    seed: Seed,
    ticket: OpenTicket,
    event: Envelope[MailParsed],
    *,
    now: datetime,
    caps: tuple[Cap, ...] = DEFAULT_CAPS,
) -> AutoReplyOutcome:
    async with sessions() as session, session.begin():
        return await maybe_auto_reply(
            session,
            event=event,
            tenant_id=seed.tenant.id,
            account_id=seed.account.id,
            ticket_id=ticket.id,
            ticket_number=ticket.number,
            ticket_subject=ticket.subject,
            tokens=TOKENS,
            now=now,
            caps=caps,
        )


async def requested(sessions: Sessions, event: Envelope[MailParsed]) -> OutboundRequested | None:
    """The outbound.requested the router's outbox holds for `event`, if any."""
    event_id = derived_event_id(event.id, EventType.OUTBOUND_REQUESTED.value)
    async with sessions() as session:
        row = await session.get(OutboxEvent, event_id)
    if row is None:
        return None
    assert (row.service, row.routing_key) == ("router", "outbound.requested")
    return Envelope[OutboundRequested].model_validate_json(row.body).payload


async def history(sessions: Sessions, ticket: OpenTicket) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketHistory)
            .where(
                col(TicketHistory.ticket_id) == ticket.id, col(TicketHistory.kind) == "auto_reply"
            )
            .order_by(col(TicketHistory.created_at), col(TicketHistory.id))
        )
        return [(r.rule, r.detail) for r in rows]


async def automatic_mails(sessions: Sessions, seed: Seed) -> list[AutomaticMail]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AutomaticMail)
            .where(col(AutomaticMail.tenant_id) == seed.tenant.id)
            .order_by(col(AutomaticMail.created_at))
        )
        return list(rows.all())


async def ready(sessions: Sessions, blobs: BlobStore, **settings: Any) -> tuple[Seed, OpenTicket]:
    """A tenant whose account auto-replies (with `settings`), and a ticket of Carol's."""
    seed, [ticket] = await ready_with(sessions, blobs, ["Printer on fire"], **settings)
    return seed, ticket


async def ready_with(
    sessions: Sessions, blobs: BlobStore, subjects: list[str], **settings: Any
) -> tuple[Seed, list[OpenTicket]]:
    """A tenant with a ticket of Carol's per subject, opened before its account auto-replies
    (with `settings`), so routing requested no auto-reply."""
    seed = await seed_tenant(sessions)
    tickets = [await open_ticket(sessions, blobs, seed, subject=s) for s in subjects]
    await enable_auto_reply(sessions, seed.account.id, **settings)
    assert await automatic_mails(sessions, seed) == []
    return seed, tickets


async def test_auto_reply_is_requested_through_the_outbox(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """The reply: to the sender, threaded, signed, tagged, automatic; logged and in history."""
    seed, ticket = await ready(sessions, blobs)
    event = mail_to(seed, references=["root@customer.example"], subject="Printer on fire")

    outcome = await auto_reply(sessions, seed, ticket, event, now=T0)

    assert outcome == AutoReplyOutcome(
        True, "auto-reply to carol@customer.example", uuid.uuid5(event.id, "auto-reply")
    )
    request = await requested(sessions, event)
    assert request is not None
    assert request.outbound_id == outcome.outbound_id
    assert (request.account_id, request.ticket_id, request.kind) == (
        seed.account.id,
        ticket.id,
        "auto_reply",
    )
    assert request.to == [CAROL]
    assert request.subject == f"Re: Printer on fire [#{ticket.number}]"
    assert request.text == (
        "Thanks, we got your mail and answer within a day.\n\n-- \n"
        "Acme Support\nhttps://acme.example"
    )
    assert request.in_reply_to == event.payload.message_id
    assert request.references == ["root@customer.example", event.payload.message_id]
    assert request.auto_submitted == "auto-replied"
    assert request.message_id is not None
    assert request.message_id.endswith("@acme.example")
    assert TOKENS.ticket_of_message_id(request.message_id) == ticket.id
    [reply_to] = request.reply_to
    assert reply_to.name == "Acme Support"
    local, domain = reply_to.email.split("@")
    assert domain == "acme.example"
    assert TOKENS.verify(local.split("+")[1]) == ticket.id
    [logged] = await automatic_mails(sessions, seed)
    assert (logged.account_id, logged.ticket_id, logged.recipient, logged.kind) == (
        seed.account.id,
        ticket.id,
        "carol@customer.example",
        "auto_reply",
    )
    assert (logged.outbound_id, logged.created_at) == (outcome.outbound_id, T0)
    assert await history(sessions, ticket) == [("sent", "auto-reply to carol@customer.example")]


async def test_one_auto_reply_per_address_per_window(sessions: Sessions, blobs: BlobStore) -> None:
    """Within the account's window the same address gets no second auto-reply, on any of the
    account's tickets; after it, it does. Other addresses are not affected."""
    seed, [ticket, other] = await ready_with(
        sessions, blobs, ["Printer on fire", "Another question"], auto_reply_window_minutes=60
    )

    assert (await auto_reply(sessions, seed, ticket, mail_to(seed), now=T0)).sent
    again = await auto_reply(sessions, seed, ticket, mail_to(seed), now=T0 + timedelta(minutes=30))
    on_other = await auto_reply(
        sessions, seed, other, mail_to(seed), now=T0 + timedelta(minutes=59)
    )
    dan = mail_to(seed, from_=Address(email="dan@customer.example"))
    for_dan = await auto_reply(sessions, seed, ticket, dan, now=T0 + timedelta(minutes=31))
    later = await auto_reply(sessions, seed, other, mail_to(seed), now=T0 + timedelta(minutes=61))

    window = "already auto-replied to carol@customer.example within 60 minutes"
    assert (again.sent, again.reason, again.outbound_id) == (False, window, None)
    assert (on_other.sent, on_other.reason) == (False, window)
    assert for_dan.sent
    assert later.sent
    assert [m.recipient for m in await automatic_mails(sessions, seed)] == [
        "carol@customer.example",
        "dan@customer.example",
        "carol@customer.example",
    ]
    assert await history(sessions, ticket) == [
        ("sent", "auto-reply to carol@customer.example"),
        ("suppressed", window),
        ("sent", "auto-reply to dan@customer.example"),
    ]


async def test_a_redelivered_mail_requests_the_same_reply_once(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed, ticket = await ready(sessions, blobs)
    event = mail_to(seed)

    first = await auto_reply(sessions, seed, ticket, event, now=T0)
    second = await auto_reply(sessions, seed, ticket, event, now=T0 + timedelta(seconds=5))

    assert first.sent
    assert second == AutoReplyOutcome(True, "already requested for this mail", first.outbound_id)
    assert len(await automatic_mails(sessions, seed)) == 1


async def test_disabled_account_sends_nothing_and_records_nothing(
    sessions: Sessions, blobs: BlobStore
) -> None:
    seed, ticket = await ready(sessions, blobs, auto_reply_enabled=False)
    event = mail_to(seed)

    outcome = await auto_reply(sessions, seed, ticket, event, now=T0)

    assert outcome == AutoReplyOutcome(False, "auto-reply disabled")
    assert await requested(sessions, event) is None
    assert await history(sessions, ticket) == []


def classified(kind: MailKind, reason: str, auto_submitted: str | None = None) -> Any:
    return MailClassification(kind=kind, reasons=[reason], auto_submitted=auto_submitted)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (
            {
                "classification": classified(
                    MailKind.AUTO_REPLY, "auto-submitted: auto-replied", "auto-replied"
                )
            },
            "mail is auto_reply (auto-submitted: auto-replied)",
        ),
        (
            {"classification": classified(MailKind.AUTO_REPLY, "x-autoreply header")},
            "mail is auto_reply (x-autoreply header)",
        ),
        (
            {"classification": classified(MailKind.BOUNCE, "multipart/report: delivery-status")},
            "mail is bounce (multipart/report: delivery-status)",
        ),
        (
            {"classification": classified(MailKind.LIST, "precedence: bulk")},
            "mail is list (precedence: bulk)",
        ),
        (
            {"classification": classified(MailKind.LIST, "list-id header")},
            "mail is list (list-id header)",
        ),
        (
            {"classification": classified(MailKind.SPAM, "x-spam-flag: yes")},
            "mail is spam (x-spam-flag: yes)",
        ),
        (
            {"classification": classified(MailKind.HUMAN, "x", auto_submitted="auto-generated")},
            "mail is automatic (auto-submitted: auto-generated)",
        ),
        (
            {"classification": classified(MailKind.HUMAN, "null return-path")},
            "null return-path (RFC 3834: never answer it)",
        ),
        ({"bounce": BounceReport(status="5.1.1")}, "mail is a delivery status report"),
        ({"source": "imap-backfill"}, "imported from a mailbox backfill"),
        (
            {"from_": Address(email="no-reply@shop.example")},
            "no-reply@shop.example is not a person's mailbox",
        ),
        (
            {"reply_to": [Address(email="MAILER-DAEMON@mx.example")]},
            "mailer-daemon@mx.example is not a person's mailbox",
        ),
    ],
)
async def test_mail_that_is_never_answered(
    sessions: Sessions, blobs: BlobStore, overrides: dict[str, Any], reason: str
) -> None:
    """Every non-human kind, Auto-Submitted, null Return-Path, bounces, backfill imports and
    noreply-like addresses: no reply requested, the reason in the ticket's history."""
    seed, ticket = await ready(sessions, blobs)
    event = mail_to(seed, **overrides)

    outcome = await auto_reply(sessions, seed, ticket, event, now=T0)

    assert outcome == AutoReplyOutcome(False, reason)
    assert await requested(sessions, event) is None
    assert await automatic_mails(sessions, seed) == []
    assert await history(sessions, ticket) == [("suppressed", reason)]


async def test_postdesk_addresses_of_any_tenant_are_never_answered(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Another tenant's account address (plus-tagged too), inbound address and catch-all
    domain, and our own account: never answered. An inactive account's address is no longer
    postdesk's."""
    seed, ticket = await ready(sessions, blobs)
    peer = await seed_tenant(sessions)
    retired = await seed_tenant(sessions)
    suffix = uuid.uuid4().hex[:10]
    inbound, catch_all = f"in-{suffix}@in.postdesk.example", f"catch-{suffix}.example"
    async with sessions() as session, session.begin():
        session.add(
            InboundAddress(tenant_id=peer.tenant.id, address=inbound, account_id=peer.account.id)
        )
        session.add(
            InboundDomain(
                tenant_id=peer.tenant.id, domain=catch_all, catch_all_account_id=peer.account.id
            )
        )
        await session.execute(
            update(EmailAccount)
            .where(col(EmailAccount.id) == retired.account.id)
            .values(is_active=False)
        )
    local, domain = peer.address.split("@")
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"from_": Address(email=peer.address)},
            f"address answered {peer.address} is a postdesk address",
        ),
        (
            {"from_": Address(email=f"{local}+orders@{domain}")},
            f"address answered {local}+orders@{domain} is a postdesk address",
        ),
        (
            {"reply_to": [Address(email=inbound)]},
            f"address answered {inbound} is a postdesk address",
        ),
        (
            {"from_": Address(email=f"anyone@{catch_all}")},
            f"address answered anyone@{catch_all} is a postdesk address",
        ),
        (
            {"reply_to": [Address(email=seed.address)]},
            f"address answered {seed.address} is a postdesk address",
        ),
        (
            # a customer whose Reply-To is a person, but who writes from a postdesk mailbox
            {"from_": Address(email=peer.address), "reply_to": [CAROL]},
            f"sender {peer.address} is a postdesk address",
        ),
    ]
    for overrides, reason in cases:
        outcome = await auto_reply(sessions, seed, ticket, mail_to(seed, **overrides), now=T0)
        assert outcome == AutoReplyOutcome(False, reason)
    assert await automatic_mails(sessions, seed) == []

    former = mail_to(seed, from_=Address(email=retired.address))
    assert (await auto_reply(sessions, seed, ticket, former, now=T0)).sent


async def test_outside_hours_schedule_follows_the_accounts_working_hours(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Berlin hours 09-17 on weekdays: 10:00 Berlin is suppressed, 20:00 is answered; an
    "always" account answers at 10:00."""
    seed, ticket = await ready(
        sessions,
        blobs,
        auto_reply_schedule="outside_hours",
        timezone="Europe/Berlin",
        working_hours=BERLIN_HOURS,
    )
    ten_berlin = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)

    during = await auto_reply(sessions, seed, ticket, mail_to(seed), now=ten_berlin)
    after = await auto_reply(sessions, seed, ticket, mail_to(seed), now=T0)

    assert during == AutoReplyOutcome(False, "within the account's working hours")
    assert after.sent

    always, always_ticket = await ready(
        sessions, blobs, auto_reply_schedule="always", working_hours=BERLIN_HOURS
    )
    assert (await auto_reply(sessions, always, always_ticket, mail_to(always), now=ten_berlin)).sent


async def test_zammad_reference_ten_per_ticket_in_ten_minutes(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Window off, so only caps apply: the 11th automatic mail to one ticket within 10 minutes
    is suppressed; once the first leaves the 10 minutes, one more goes."""
    seed, ticket = await ready(sessions, blobs, auto_reply_window_minutes=0)
    moments = [T0 + timedelta(seconds=30 * i) for i in range(11)]

    outcomes = [await auto_reply(sessions, seed, ticket, mail_to(seed), now=at) for at in moments]
    slid = await auto_reply(
        sessions, seed, ticket, mail_to(seed), now=T0 + timedelta(minutes=10, seconds=1)
    )

    assert [o.sent for o in outcomes] == [True] * 10 + [False]
    assert outcomes[10].reason == "cap reached: 10 automatic mails per ticket in 10 minutes"
    assert slid.sent


async def test_zammad_reference_hundred_per_ticket_in_ten_hours(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """One automatic mail every 6 minutes stays under 10 per 10 minutes and 20 per hour per
    address, yet the 101st within 10 hours is suppressed by the ticket's 10-hour cap."""
    seed, ticket = await ready(sessions, blobs, auto_reply_window_minutes=0)

    sent = [
        await auto_reply(sessions, seed, ticket, mail_to(seed), now=T0 + timedelta(minutes=6 * i))
        for i in range(100)
    ]
    hundred_first = await auto_reply(
        sessions, seed, ticket, mail_to(seed), now=T0 + timedelta(minutes=597)
    )
    slid = await auto_reply(
        sessions, seed, ticket, mail_to(seed), now=T0 + timedelta(hours=10, seconds=1)
    )

    assert all(o.sent for o in sent)
    assert hundred_first == AutoReplyOutcome(
        False, "cap reached: 100 automatic mails per ticket in 10 hours"
    )
    assert slid.sent


async def test_per_address_cap_across_tickets(sessions: Sessions, blobs: BlobStore) -> None:
    """Window off: 20 automatic mails to one address in an hour, then no more to it; another
    address is still answered."""
    seed, ticket = await ready(sessions, blobs, auto_reply_window_minutes=0)

    outcomes = [
        await auto_reply(sessions, seed, ticket, mail_to(seed), now=T0 + timedelta(minutes=2 * i))
        for i in range(21)
    ]
    dan = mail_to(seed, from_=Address(email="dan@customer.example"))
    for_dan = await auto_reply(sessions, seed, ticket, dan, now=T0 + timedelta(minutes=42))

    assert [o.sent for o in outcomes] == [True] * 20 + [False]
    assert outcomes[20].reason == "cap reached: 20 automatic mails per address in 1 hour"
    assert for_dan.sent


async def test_per_tenant_cap(sessions: Sessions, blobs: BlobStore) -> None:
    """1000 automatic mails of the tenant in the last hour (any account, any address): the
    next is suppressed; a smaller configured cap applies the same way."""
    seed, ticket = await ready(sessions, blobs)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO automatic_mails"
                " (id, tenant_id, account_id, recipient, kind, outbound_id, created_at)"
                " SELECT gen_random_uuid(), :tenant, :account, 'r' || n || '@x.example',"
                " 'auto_reply', gen_random_uuid(),  CAST(:start AS timestamptz) + n * interval '3 seconds'"
                " FROM generate_series(1, 1000) AS n"
            ),
            {"tenant": seed.tenant.id, "account": seed.account.id, "start": T0},
        )
    in_the_hour = T0 + timedelta(minutes=55)

    capped = await auto_reply(sessions, seed, ticket, mail_to(seed), now=in_the_hour)
    small = (Cap(CapScope.TENANT, 2000, timedelta(hours=1)),)
    raised = await auto_reply(sessions, seed, ticket, mail_to(seed), now=in_the_hour, caps=small)
    lowered = (Cap(CapScope.TENANT, 1001, timedelta(hours=1)),)
    over = await auto_reply(
        sessions,
        seed,
        ticket,
        mail_to(seed, from_=Address(email="dan@customer.example")),
        now=in_the_hour,
        caps=lowered,
    )

    assert capped == AutoReplyOutcome(
        False, "cap reached: 1000 automatic mails per tenant in 1 hour"
    )
    assert raised.sent
    assert over == AutoReplyOutcome(False, "cap reached: 1001 automatic mails per tenant in 1 hour")


async def test_concurrent_mails_from_one_sender_get_one_auto_reply(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Two replicas answering the same address: the second waits for the first's lock, then
    sees its reply in the window. Exactly one auto-reply."""
    seed, [ticket, other] = await ready_with(
        sessions, blobs, ["Printer on fire", "Second question"]
    )
    waiting_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def second() -> AutoReplyOutcome:
        async with sessions() as session, session.begin():
            waiting_pid.set_result(
                (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            )
            return await maybe_auto_reply(
                session,
                event=mail_to(seed),
                tenant_id=seed.tenant.id,
                account_id=seed.account.id,
                ticket_id=other.id,
                ticket_number=other.number,
                ticket_subject=other.subject,
                tokens=TOKENS,
                now=T0,
            )

    async with sessions() as session, session.begin():
        first = await maybe_auto_reply(
            session,
            event=mail_to(seed),
            tenant_id=seed.tenant.id,
            account_id=seed.account.id,
            ticket_id=ticket.id,
            ticket_number=ticket.number,
            ticket_subject=ticket.subject,
            tokens=TOKENS,
            now=T0,
        )
        task = asyncio.create_task(second())
        pid = await waiting_pid

        async def blocked() -> bool | None:
            async with sessions() as probe:
                state = await probe.execute(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": pid},
                )
                return True if state.scalar_one_or_none() == "Lock" else None

        await eventually(blocked)
    later = await task

    assert first.sent
    assert later == AutoReplyOutcome(
        False, "already auto-replied to carol@customer.example within 1440 minutes"
    )
    assert len(await automatic_mails(sessions, seed)) == 1


async def test_synthesised_message_id_is_not_answered_as_a_thread(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A Message-ID the parser made up names nothing the sender knows: no In-Reply-To."""
    seed, ticket = await ready(sessions, blobs)
    event = mail_to(seed, message_id_synthesised=True, references=["root@customer.example"])

    assert (await auto_reply(sessions, seed, ticket, event, now=T0)).sent
    request = await requested(sessions, event)
    assert request is not None
    assert (request.in_reply_to, request.references) == (None, [])
