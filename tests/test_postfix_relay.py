"""Outbound through a real relay: Debian's Postfix as the tenant's SMTP server.

Postfix (STARTTLS with a test certificate, SASL logins checked by Dovecot)
relays to an aiosmtpd sink. The sender's exactly-once ends at the relay's
"250 queued as": the tests show that the relay passes the message on once
with our threading headers untouched, that its refusals reach the sender
as the tenant's server meant them (a foreign sender, a deferred and a
refused recipient), that the connection test catches a sender Postfix
refuses only at RCPT (its default, smtpd_delay_reject), and that a refusal
further down the line comes back as a delivery report the parser ties to
our Message-ID, which is how the router marks the message bounced.
"""

from __future__ import annotations

import asyncio
import email
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from postdesk_contracts import Address, EventType, OutboundRequested, new_envelope
from postdesk_outbound.domain import OutboundStatus
from postdesk_outbound.sender import send_due
from postdesk_outbound.service import handle_outbound
from postdesk_outbound.settings import OutboundSettings
from postdesk_parser.domain import parse_mail
from postdesk_runtime import (
    BlobStore,
    Sessions,
    ThreadTokens,
    make_blob_store,
    make_engine,
    make_sessions,
)
from postdesk_schema import EmailAccount, OutboundMessage, SmtpServer, Tenant
from postdesk_smtp.client import Outcome, probe
from postdesk_smtp.settings import seal_password
from postdesk_testing import IsolatedDatabase, eventually
from postdesk_testing.postfix import PostfixRelay
from postdesk_testing.smtp import CertificateFiles, SmtpTestServer, make_certificate, smtp_server
from sqlalchemy import update
from sqlmodel import col

pytestmark = pytest.mark.integration

KEYRING = OutboundSettings().keyring()
TOKENS = ThreadTokens.from_keyring(KEYRING)
LOGIN, PASSWORD = "bob", "relay-secret"
CUSTOMER = "carol@customer.example"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def relay_database() -> AsyncIterator[str]:
    database = IsolatedDatabase()
    yield await database.create()
    await database.drop()


@pytest_asyncio.fixture(loop_scope="session")
async def sessions(relay_database: str) -> AsyncIterator[Sessions]:
    engine = make_engine(relay_database, pool_size=4)
    made = make_sessions(engine)
    async with made() as session, session.begin():
        await session.execute(  # an earlier test's leftovers are not this test's to send
            update(OutboundMessage)
            .where(col(OutboundMessage.status).in_(["scheduled", "retrying", "sending"]))
            .values(status="cancelled")
        )
    yield made
    await engine.dispose()


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CertificateFiles:
    """The relay's certificate; the sender trusts its CA as a private CA in SSL_CERT_FILE."""
    made = make_certificate(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(made.ca_file))
    return made


@pytest.fixture
def blobs(blob_dir: Path) -> BlobStore:
    return make_blob_store(OutboundSettings(blob_dir=blob_dir))


@pytest_asyncio.fixture(loop_scope="session")
async def sink() -> AsyncIterator[SmtpTestServer]:
    async with smtp_server() as server:
        yield server


async def seed_tenant(sessions: Sessions, relay: PostfixRelay, *, login: str) -> EmailAccount:
    """A tenant whose account sends through `relay` with STARTTLS as `login`."""
    suffix = uuid.uuid4().hex[:8]
    tenant = Tenant(
        name=f"Acme {suffix}", slug=f"acme-{suffix}", settings={"outbound": {"undo_seconds": 0}}
    )
    account = EmailAccount(tenant_id=tenant.id, address=f"support-{suffix}@acme.example")
    async with sessions() as session, session.begin():
        session.add(tenant)
        await session.flush()
        session.add(account)
        session.add(
            SmtpServer(
                tenant_id=tenant.id,
                host="127.0.0.1",
                port=relay.port,
                security="starttls",
                username=login,
                password_sealed=seal_password(KEYRING, PASSWORD),
                timeout_seconds=10,
            )
        )
    return account


async def request(sessions: Sessions, account: EmailAccount, to: str, at: datetime) -> uuid.UUID:
    wanted = OutboundRequested(
        outbound_id=uuid.uuid4(),
        account_id=account.id,
        kind="reply",
        to=[Address(name="Carol", email=to)],
        subject="Re: Printer on fire",
        text="Have you tried water?",
        in_reply_to="question-1@customer.example",
        references=["question-1@customer.example"],
    )
    event = new_envelope(EventType.OUTBOUND_REQUESTED, wanted, tenant_id=account.tenant_id)
    async with sessions() as session, session.begin():
        await handle_outbound(session, event, now=at)
    return wanted.outbound_id


async def stored(sessions: Sessions, outbound_id: uuid.UUID) -> OutboundMessage:
    async with sessions() as session:
        row = await session.get(OutboundMessage, outbound_id)
    assert row is not None
    return row


async def send(sessions: Sessions, blobs: BlobStore, at: datetime) -> int:
    return await send_due(sessions, blobs, KEYRING, TOKENS, now=at)


def relay_for(
    sink: SmtpTestServer,
    certificate: CertificateFiles,
    *,
    sender_logins: dict[str, str] | None = None,
    recipient_answers: dict[str, str] | None = None,
) -> PostfixRelay:
    """A relay to `sink` where bob may log in."""
    return PostfixRelay(
        relay_to=sink.port,
        certificate=certificate,
        users={LOGIN: PASSWORD},
        sender_logins=sender_logins or {},
        recipient_answers=recipient_answers or {},
    )


async def started(relay: PostfixRelay) -> PostfixRelay:
    await asyncio.to_thread(relay.start)
    return relay


async def until(condition: Callable[[], bool], within: float = 20) -> None:
    async def holds() -> bool | None:
        return True if condition() else None

    await eventually(holds, within=within)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_a_reply_is_relayed_once_with_its_threading_untouched(
    sessions: Sessions, blobs: BlobStore, sink: SmtpTestServer, certificate: CertificateFiles
) -> None:
    relay = await started(relay_for(sink, certificate))
    try:
        account = await seed_tenant(sessions, relay, login=LOGIN)
        outbound_id = await request(sessions, account, CUSTOMER, now())
        assert await send(sessions, blobs, now()) == 1
        await until(lambda: len(sink.received) == 1 and relay.queued() == 0)
        assert await send(sessions, blobs, now() + timedelta(hours=1)) == 0
        await asyncio.sleep(1.5)  # a second copy would have had Postfix's queue run to arrive
    finally:
        await asyncio.to_thread(relay.stop)

    row = await stored(sessions, outbound_id)
    assert row.status == OutboundStatus.SENT
    assert row.smtp_response.startswith("250 2.0.0 Ok: queued as ")
    [received] = sink.received
    assert (received.mail_from, received.rcpt_tos) == (account.address, [CUSTOMER])
    assert row.raw_blob_ref is not None
    sent_copy = await blobs.get(row.raw_blob_ref)
    queue_id = row.smtp_response.rsplit(" ", 1)[-1]
    prepended, _, rest = received.data.partition(b"\r\nFrom: ")
    assert prepended.startswith(b"Received: from ")
    assert queue_id.encode() in prepended
    relayed = email.message_from_bytes(b"From: " + rest)
    ours = email.message_from_bytes(sent_copy)
    for header in ("Message-ID", "In-Reply-To", "References", "Thread-Index", "Subject", "Date"):
        assert relayed[header] == ours[header], header
    assert relayed["In-Reply-To"] == "<question-1@customer.example>"
    assert relayed.get_payload() == ours.get_payload() or relayed.as_bytes() == ours.as_bytes()


async def test_the_relays_refusals_reach_the_sender_as_meant(
    sessions: Sessions, blobs: BlobStore, sink: SmtpTestServer, certificate: CertificateFiles
) -> None:
    """A login sending as an address it does not own fails for good; a deferred recipient is
    retried; a refused one fails for good; none of them reaches the sink."""
    relay = relay_for(
        sink,
        certificate,
        recipient_answers={
            "busy@customer.example": "451 4.3.2 try later",
            "gone@customer.example": "550 5.1.1 no such user",
        },
    )
    foreign = await seed_tenant(sessions, relay, login=LOGIN)
    account = await seed_tenant(sessions, relay, login=LOGIN)
    relay.sender_logins = {account.address: LOGIN}  # bob owns this address, not foreign's
    await started(relay)
    try:
        foreign_id = await request(sessions, foreign, CUSTOMER, now())
        busy_id = await request(sessions, account, "busy@customer.example", now())
        gone_id = await request(sessions, account, "gone@customer.example", now())
        assert await send(sessions, blobs, now()) == 3
    finally:
        await asyncio.to_thread(relay.stop)

    rejected = await stored(sessions, foreign_id)
    assert rejected.status == OutboundStatus.FAILED
    assert "Sender address rejected: not owned by user bob" in (rejected.failure_reason or "")
    busy = await stored(sessions, busy_id)
    assert busy.status == OutboundStatus.RETRYING
    assert busy.next_attempt_at is not None
    assert "451 4.3.2" in busy.attempt_log[-1].get("response", str(busy.attempt_log[-1]))
    gone = await stored(sessions, gone_id)
    assert gone.status == OutboundStatus.FAILED
    assert "550 5.1.1" in (gone.failure_reason or "")
    assert sink.received == []


async def test_the_connection_test_reports_what_postfix_refuses(
    sink: SmtpTestServer, certificate: CertificateFiles
) -> None:
    relay = await started(
        relay_for(sink, certificate, sender_logins={"support@acme.example": LOGIN})
    )
    try:
        good = await probe(
            relay.target(username=LOGIN, password=PASSWORD), envelope_from="support@acme.example"
        )
        wrong_password = await probe(
            relay.target(username=LOGIN, password="nope"), envelope_from="support@acme.example"
        )
        foreign_sender = await probe(
            relay.target(username=LOGIN, password=PASSWORD), envelope_from="ceo@acme.example"
        )
    finally:
        await asyncio.to_thread(relay.stop)

    assert (good.outcome, good.stage) == (Outcome.SENT, "done")
    assert "with STARTTLS, logged in as bob" in good.response
    assert (wrong_password.outcome, wrong_password.stage) == (Outcome.PERMANENT, "auth")
    assert wrong_password.response.startswith("535 5.7.8")
    # Postfix delays sender restrictions to RCPT by default: the probe must still see them
    assert (foreign_sender.outcome, foreign_sender.stage) == (Outcome.PERMANENT, "mail")
    assert "Sender address rejected: not owned by user bob" in foreign_sender.response
    assert sink.received == []


async def test_a_refusal_beyond_the_relay_comes_back_as_a_bounce_of_our_message(
    sessions: Sessions, blobs: BlobStore, certificate: CertificateFiles
) -> None:
    """The relay said 250, so the message is sent; the next hop's 550 returns as a DSN to the
    account, which the parser reads as a bounce of our Message-ID."""
    async with smtp_server(replies={"RCPT": ["550 5.1.1 mailbox unavailable"]}) as next_hop:
        relay = await started(relay_for(next_hop, certificate))
        try:
            account = await seed_tenant(sessions, relay, login=LOGIN)
            outbound_id = await request(sessions, account, CUSTOMER, now())
            assert await send(sessions, blobs, now()) == 1
            await until(lambda: len(next_hop.received) == 1)
        finally:
            await asyncio.to_thread(relay.stop)

    row = await stored(sessions, outbound_id)
    assert row.status == OutboundStatus.SENT
    [report] = next_hop.received
    assert report.mail_from == "<>"  # the null sender: a report is never answered
    assert report.rcpt_tos == [account.address]
    parsed = parse_mail(report.data)
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_id == row.message_id_header
    assert parsed.bounce.failed_recipients == [CUSTOMER]
    assert parsed.bounce.status == "5.1.1"
