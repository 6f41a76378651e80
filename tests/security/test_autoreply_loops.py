"""Auto-reply loops through the running pipeline (ingest with its SMTP listener, parser,
router, outbound), with a mail relay of the test as both tenants' SMTP server.

The relay delivers what outbound sends to a postdesk address back into ingest's SMTP
listener, byte for byte, and plays a hostile peer for bob@peer.example: each mail it
gets for bob is answered at once with a human-looking mail (no Auto-Submitted,
Precedence or list headers, a person's From, a subject without the ticket's tag), as an
autoresponder that strips the markers would.

- two tenants' auto-replies to each other: the demo tenant (A) gets a mail from
  help@globex.example (tenant B) and B one from cs@acme.example, each also with the other
  as Reply-To; both accounts auto-reply with no per-address window. Pass: not one
  auto-reply goes to the other tenant's address (postdesk addresses of any tenant are
  never answered), nothing is exchanged after the starting mails.
- a hostile peer's ping-pong: bob writes to A, whose auto-replies he answers at once.
  The markers cannot stop it (stripped), nor threading (every answer is a new ticket),
  and the window is off (0 minutes); pass: the exchange gets going (at least 4
  auto-replies) and A sends bob at most the per-address cap (`RECIPIENT_CAP`, 20 in an
  hour), then nothing more for `QUIET_SECONDS`, all within the test's time.
- meanwhile tenant B's customers write to B: each of their mails is a ticket of B within
  `PROMPT_SECONDS` of being sent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import aiosmtplib
import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP, Envelope, Session
from postdesk_cli.demo import address
from postdesk_router.autoreply import RECIPIENT_CAP
from postdesk_schema import EmailAccount, Ticket
from sqlalchemy import select, update
from sqlmodel import col

from tests.e2e.conftest import free_port_block
from tests.faults.stack import FaultStack, prepare_tenant
from tests.faults.test_smtp_temporary_failures import B_MAILBOX, seed_second_tenant
from tests.security.processes import RunningServices, running_services

pytestmark = pytest.mark.e2e

A_MAILBOX = address("cs")
BOB = "bob@peer.example"
POSTDESK_DOMAINS = ("acme.example", "globex.example")
QUIET_SECONDS = 8.0
PROMPT_SECONDS = 15.0
LOOP_WITHIN = 150.0
MARKERS = ("Auto-Submitted", "Precedence", "X-Autoreply", "X-Auto-Response-Suppress")


@dataclass
class Relay:
    """The tenants' SMTP server (see the module docstring); `sent` is every mail by
    recipient, with the time it arrived."""

    ingest_port: int
    port: int = 0
    sent: dict[str, list[tuple[float, bytes]]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle_DATA(  # noqa: N802  # the hook name aiosmtpd looks up
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        data = envelope.original_content or b""
        for rcpt in envelope.rcpt_tos:
            self.sent.setdefault(rcpt.lower(), []).append((time.monotonic(), data))
            if rcpt.lower().endswith(POSTDESK_DOMAINS):
                self._later(self.inject(envelope.mail_from or "", rcpt, data))
            elif rcpt.lower() == BOB:
                self._later(self.inject(BOB, A_MAILBOX, hostile_answer(data)))
        return "250 2.0.0 OK relayed"

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def inject(self, sender: str, rcpt: str, data: bytes) -> None:
        await aiosmtplib.send(
            data, sender=sender, recipients=[rcpt], hostname="127.0.0.1", port=self.ingest_port
        )

    def count(self, rcpt: str) -> int:
        return len(self.sent.get(rcpt, []))


def hostile_answer(data: bytes) -> bytes:
    """Bob's immediate answer to `data`, without automatic markers."""
    answer = EmailMessage()
    answer["From"] = f"Bob <{BOB}>"
    answer["To"] = A_MAILBOX
    # no ticket tag, no In-Reply-To: each answer is a new ticket (postdesk auto-replies to
    # new tickets only), the worst case for the caps
    answer["Subject"] = f"Still waiting ({len(data)})"
    answer["Message-ID"] = f"<{uuid.uuid4()}@peer.example>"
    answer.set_content("Thanks! Got it. Any news?")
    for marker in MARKERS:
        assert marker not in answer
    return answer.as_bytes()


def first_mail(sender: str, rcpt: str, subject: str, reply_to: str | None = None) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = rcpt
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{uuid.uuid4()}@start.example>"
    mail.set_content("Hello, I need help with my order.")
    return mail.as_bytes()


@asynccontextmanager
async def relayed_pipeline(
    directory: Path, **env: str
) -> AsyncIterator[tuple[RunningServices, Relay]]:
    """Ingest (its SMTP listener on), parser, router and outbound as processes, both demo
    tenants sending through `Relay`, which delivers mail for them back into ingest."""
    ingest_smtp = free_port_block(1)
    relay = Relay(ingest_smtp)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(relay, hostname="relay.test", loop=loop), host="127.0.0.1", port=0
    )
    relay.port = server.sockets[0].getsockname()[1]
    try:
        async with running_services(
            ("ingest", "parser", "router", "outbound"),
            directory,
            INGEST_SMTP_ENABLED="true",
            INGEST_SMTP_PORT=str(ingest_smtp),
            **env,
        ) as services:
            await prepare_tenant(services.engine, relay.port)
            # seed_second_tenant reads only the stack's engine
            await seed_second_tenant(cast(FaultStack, services), relay.port)
            yield services, relay
    finally:
        server.close()
        await asyncio.gather(*relay.tasks, return_exceptions=True)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def loop_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[RunningServices, Relay]]:
    async with relayed_pipeline(
        tmp_path_factory.mktemp("loops"),
        INGEST_WEBHOOK_SECRET="loops-raw-secret",
        INGEST_RATE_PER_SOURCE="off",
        INGEST_RATE_PER_TENANT="off",
    ) as (services, relay):
        async with services.engine.begin() as conn:
            await conn.execute(
                update(EmailAccount)
                .where(col(EmailAccount.address) == A_MAILBOX)
                .values(auto_reply_window_minutes=0)
            )
        yield services, relay


async def settled_count(relay: Relay, rcpt: str, *, quiet: float, within: float) -> int:
    """How many mails `rcpt` got once none came for `quiet` seconds; fails after `within`."""
    deadline = time.monotonic() + within
    while True:
        arrivals = relay.sent.get(rcpt, [])
        last = arrivals[-1][0] if arrivals else 0.0
        if arrivals and time.monotonic() - last >= quiet:
            return len(arrivals)
        assert time.monotonic() < deadline, f"{rcpt} still getting mail after {within} s"
        await asyncio.sleep(0.5)


async def test_two_tenants_never_answer_each_other(
    loop_stack: tuple[RunningServices, Relay],
) -> None:
    """Mail between two tenants' auto-replying mailboxes starts no exchange (each mail is
    a ticket: it did reach the router)."""
    services, relay = loop_stack
    sent = time.monotonic()
    for sender, rcpt, subject in ((B_MAILBOX, A_MAILBOX, "ping"), (A_MAILBOX, B_MAILBOX, "pong")):
        await relay.inject(sender, rcpt, first_mail(sender, rcpt, subject, reply_to=sender))
    for subject in ("ping", "pong"):
        assert await ticket_latency(services, subject, sent) < PROMPT_SECONDS, subject
    await asyncio.sleep(QUIET_SECONDS)
    assert relay.count(A_MAILBOX) == 0
    assert relay.count(B_MAILBOX) == 0


async def test_hostile_ping_pong_stops_at_the_address_cap(
    loop_stack: tuple[RunningServices, Relay],
) -> None:
    """Bob's marker-free answers get at most the per-address cap of auto-replies, and the
    other tenant's customers are served promptly meanwhile."""
    services, relay = loop_stack
    started = time.monotonic()
    await relay.inject(BOB, A_MAILBOX, first_mail(f"Bob <{BOB}>", A_MAILBOX, "Where is it?"))
    waits = []
    while relay.count(BOB) < 4:
        assert time.monotonic() - started < LOOP_WITHIN, "the loop never got going"
        subject = f"bystander {uuid.uuid4()}"
        sent = time.monotonic()
        await relay.inject(
            "dave@outside.example",
            B_MAILBOX,
            first_mail("Dave <dave@outside.example>", B_MAILBOX, subject),
        )
        waits.append(await ticket_latency(services, subject, sent))
    answered = await settled_count(relay, BOB, quiet=QUIET_SECONDS, within=LOOP_WITHIN)
    assert 4 <= answered <= RECIPIENT_CAP.limit, answered
    assert max(waits) < PROMPT_SECONDS, waits


async def ticket_latency(services: RunningServices, subject: str, sent: float) -> float:
    """Seconds from `sent` until a ticket with `subject` exists (at most PROMPT_SECONDS)."""
    while time.monotonic() - sent < PROMPT_SECONDS:
        async with services.engine.connect() as conn:
            found = await conn.scalar(select(col(Ticket.id)).where(col(Ticket.subject) == subject))
        if found is not None:
            return time.monotonic() - sent
        await asyncio.sleep(0.2)
    return PROMPT_SECONDS
