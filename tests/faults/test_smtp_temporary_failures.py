"""Scenario 7: one tenant's SMTP server refuses with 4xx for a while, then accepts; each of its
answers is sent once, and another tenant's mail is not held up meanwhile.

Two tenants, each with its own SMTP server, both real aiosmtpd servers in
the test: the demo tenant's ("A") answers 451 to every transaction, at
MAIL, RCPT or DATA in turn (at DATA after the whole message was sent, the
case where a sender might wrongly count it delivered); the second tenant's
("B") accepts everything. Both keep what they accept as .eml files where
the invariant reads the sink. The answers are the mailboxes' auto-replies.

Outbound runs with a short backoff (RETRY_BASE_SECONDS 1, RETRY_CAP_SECONDS
2; the default is 30 s doubling up to an hour), and tenant A allows 50
attempts, so the refusal is a passing trouble, not a reason to give up.

Shown: every answer of B arrives while A is refusing, each within
`PROMPT_SECONDS` of being requested, a fraction of A's refusal (at least
`REFUSAL_SECONDS`, until every answer of A was refused at least twice);
B's answers need one attempt each. Once A's server accepts, each of A's
answers arrives exactly once, and the invariant holds for both tenants.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from postdesk_runtime.db import make_sessions
from postdesk_schema import (
    AssignmentRole,
    Department,
    EmailAccount,
    EmailAssignment,
    OutboundMessage,
    SmtpServer,
    Tenant,
    User,
)
from postdesk_testing import eventually
from sqlalchemy import select, update
from sqlmodel import col

from tests.faults.invariant import AcceptedMail, Report, bare_message_id
from tests.faults.stack import MAILBOX, PIPELINE, SERVICE_ENV, FaultStack, corpus

pytestmark = pytest.mark.e2e

MAILS_EACH = 10
IN_FLIGHT = 4
REFUSAL_SECONDS = 15.0  # A refuses at least this long
PROMPT_SECONDS = 5.0  # B's answers: from the request to the server, at most (typically ~2 s)
RETRY_ENV = {"RETRY_BASE_SECONDS": "1", "RETRY_CAP_SECONDS": "2"}
STAGES = ("MAIL", "RCPT", "DATA")
REFUSAL = "451 4.3.0 try again later"
B_MAILBOX = "help@globex.example"
AUTO_REPLY = "Thanks, Globex has your mail."


@dataclass(frozen=True)
class Delivery:
    message_id: str  # bare
    at: float  # time.time() when the server accepted it


@dataclass
class GatedServer:
    """An SMTP server that, while `refusing`, answers 451 to each transaction at one of MAIL,
    RCPT and DATA in turn; otherwise accepts and keeps the mail in `keep_in`."""

    name: str
    keep_in: Path
    refusing: bool
    port: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    refused_at: list[float] = field(default_factory=list)
    delivered: list[Delivery] = field(default_factory=list)
    _transactions: int = 0
    _refuse_at: dict[int, str] = field(default_factory=dict)  # id(session) -> stage

    def _refuse(self, session: Session, stage: str) -> str | None:
        if stage == "MAIL":
            self._refuse_at.pop(id(session), None)
            if self.refusing:
                self._refuse_at[id(session)] = STAGES[self._transactions % len(STAGES)]
                self._transactions += 1
        if self._refuse_at.get(id(session)) != stage:
            return None
        self.refusals[stage] += 1
        self.refused_at.append(time.time())
        return REFUSAL

    async def handle_MAIL(  # noqa: N802  # the hook name aiosmtpd looks up
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if refused := self._refuse(session, "MAIL"):
            return refused
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802  # the hook name aiosmtpd looks up
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if refused := self._refuse(session, "RCPT"):
            return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802  # the hook name aiosmtpd looks up
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if refused := self._refuse(session, "DATA"):
            return refused
        data = envelope.original_content or b""
        headers = BytesHeaderParser(policy=policy.default).parsebytes(data)
        number = len(self.delivered)
        self.keep_in.mkdir(parents=True, exist_ok=True)
        partial = self.keep_in / f".{self.name}-{number:04d}.part"
        partial.write_bytes(data)
        partial.rename(self.keep_in / f"{self.name}-{number:04d}.eml")  # whole, for the checker
        self.delivered.append(
            Delivery(bare_message_id(str(headers.get("Message-ID", ""))), time.time())
        )
        return "250 2.0.0 OK kept"


@asynccontextmanager
async def serving(gate: GatedServer) -> AsyncIterator[GatedServer]:
    """`gate` on 127.0.0.1 and a free port, in this event loop, until the context exits."""
    loop = asyncio.get_running_loop()
    connections: list[SMTP] = []

    def factory() -> SMTP:
        connections.append(SMTP(gate, hostname=f"mx.{gate.name}.test", loop=loop))
        return connections[-1]

    server = await loop.create_server(factory, host="127.0.0.1", port=0)
    gate.port = server.sockets[0].getsockname()[1]
    try:
        yield gate
    finally:
        server.close()
        sessions = []
        for smtp in connections:
            if smtp.transport is not None:
                smtp.transport.close()
            if smtp._handler_coroutine is not None:
                smtp._handler_coroutine.cancel()
                sessions.append(smtp._handler_coroutine)
        await asyncio.gather(*sessions, return_exceptions=True)
        await server.wait_closed()


async def point_demo_tenant_at(stack: FaultStack, port: int) -> None:
    """Tenant A: its SMTP server `port`, 50 attempts per answer, every sender answered."""
    async with stack.engine.begin() as conn:
        await conn.execute(
            update(SmtpServer).where(col(SmtpServer.tenant_id) == stack.tenant_id).values(port=port)
        )
        await conn.execute(
            update(Tenant)
            .where(col(Tenant.id) == stack.tenant_id)
            .values(settings={"outbound": {"undo_seconds": 1, "max_attempts": 50}})
        )
        await conn.execute(
            update(EmailAccount)
            .where(col(EmailAccount.address) == MAILBOX)
            .values(auto_reply_window_minutes=0)
        )


async def seed_second_tenant(stack: FaultStack, port: int) -> uuid.UUID:
    """Tenant B: one mailbox with an auto-reply, a primary and a backup always at work, its
    SMTP server `port`."""
    tenant = Tenant(name="Globex", slug="globex", settings={"outbound": {"undo_seconds": 1}})
    department = Department(tenant_id=tenant.id, name="Support", routing_strategy="primary")
    account = EmailAccount(
        tenant_id=tenant.id,
        address=B_MAILBOX,
        display_name="Globex Help",
        department_id=department.id,
        auto_reply_enabled=True,
        auto_reply_message=AUTO_REPLY,
        auto_reply_window_minutes=0,
    )
    users = [
        User(
            tenant_id=tenant.id,
            email=f"{who}@globex.example",
            password_hash="!",  # not a hash: nobody logs in
            full_name=who.title(),
            department_id=department.id,
        )
        for who in ("grace", "hank")
    ]
    assignments = [
        EmailAssignment(
            tenant_id=tenant.id,
            account_id=account.id,
            user_id=user.id,
            role=AssignmentRole.PRIMARY if i == 0 else AssignmentRole.BACKUP,
            priority=i,
        )
        for i, user in enumerate(users)
    ]
    server = SmtpServer(tenant_id=tenant.id, host="127.0.0.1", port=port, security="none")
    async with make_sessions(stack.engine)() as session, session.begin():
        for row in (tenant, department, account, *users, *assignments, server):
            session.add(row)
            await session.flush()  # no relationships declared: insert in dependency order
    return tenant.id


@dataclass(frozen=True)
class Sent:
    message_id: str  # bare
    status: str
    attempts: int
    requested_at: datetime
    attempt_log: list[dict[str, object]]


async def auto_replies(stack: FaultStack, tenant_id: uuid.UUID) -> list[Sent]:
    """The tenant's outbound auto-replies (notification emails wait minutes: none here)."""
    async with stack.engine.connect() as conn:
        rows = await conn.execute(
            select(
                col(OutboundMessage.message_id_header),
                col(OutboundMessage.status),
                col(OutboundMessage.attempts),
                col(OutboundMessage.created_at),
                col(OutboundMessage.attempt_log),
            ).where(
                col(OutboundMessage.tenant_id) == tenant_id,
                col(OutboundMessage.kind) == "auto_reply",
            )
        )
        return [
            Sent(bare_message_id(row[0] or ""), row[1], row[2], row[3], list(row[4]))
            for row in rows
        ]


def answers_among(delivered: Sequence[Delivery], sent: Sequence[Sent]) -> list[Delivery]:
    """The deliveries that are these auto-replies: a server may also receive a daily digest
    when a run crosses the end of the demo users' working day (17:00)."""
    ids = {row.message_id for row in sent}
    return [d for d in delivered if d.message_id in ids]


async def routed(stack: FaultStack, mails: Sequence[AcceptedMail]) -> Report:
    """The report once every mail is on its ticket, assigned and notified: all that is left
    to hold is the answers."""

    async def probe() -> Report | None:
        report = await stack.check(mails=mails)
        return report if report.rules() <= {"answered"} else None

    return await eventually(probe, within=45, interval=0.5)


async def test_a_refusing_smtp_server_delays_only_its_tenant_and_each_answer_goes_once(
    fault_stack: FaultStack, corpus_dir: Path
) -> None:
    corpus_mails = corpus(corpus_dir, 40)
    a_mails, b_mails = corpus_mails[0::2][:MAILS_EACH], corpus_mails[1::2][:MAILS_EACH]
    sink = fault_stack.sent_mail
    async with (
        serving(GatedServer("a", sink, refusing=True)) as gate_a,
        serving(GatedServer("b", sink, refusing=False)) as gate_b,
    ):
        await point_demo_tenant_at(fault_stack, gate_a.port)
        b_tenant = await seed_second_tenant(fault_stack, gate_b.port)
        fault_stack.supervisor.start("outbound", **SERVICE_ENV["outbound"], **RETRY_ENV)
        await fault_stack.start(*(name for name in PIPELINE if name != "outbound"))
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def deliver(raw: bytes, rcpt: str, tenant_id: uuid.UUID) -> None:
            async with limit:
                await fault_stack.post_until_accepted(client, raw, rcpt=rcpt, tenant_id=tenant_id)

        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(
                *(
                    deliver(raw, rcpt, tenant)
                    for pair in zip(a_mails, b_mails, strict=True)
                    for raw, rcpt, tenant in (
                        (pair[0], MAILBOX, fault_stack.tenant_id),
                        (pair[1], B_MAILBOX, b_tenant),
                    )
                )
            )
        accepted = list(fault_stack.accepted.values())
        a_accepted = [m for m in accepted if m.tenant_id == fault_stack.tenant_id]
        b_accepted = [m for m in accepted if m.tenant_id == b_tenant]
        assert (len(a_accepted), len(b_accepted)) == (MAILS_EACH, MAILS_EACH)

        # B: all answered, once each, while A refuses
        b_report = await fault_stack.settled(mails=b_accepted, within=45)
        assert b_report.holds, str(b_report)
        assert b_report.answers_requested > 0
        assert gate_a.refusing
        assert not gate_a.delivered

        # A: every answer requested and refused at least twice before the server recovers
        a_requested = (await routed(fault_stack, a_accepted)).answers_requested
        assert a_requested > 0

        async def each_refused_twice() -> list[Sent] | None:
            rows = await auto_replies(fault_stack, fault_stack.tenant_id)
            ready = len(rows) == a_requested and all(r.attempts >= 2 for r in rows)
            return rows if ready else None

        refused_rows = await eventually(each_refused_twice, within=45, interval=0.5)
        assert {r.status for r in refused_rows} <= {"retrying", "sending"}
        first_refusal = gate_a.refused_at[0]
        await asyncio.sleep(max(0.0, first_refusal + REFUSAL_SECONDS - time.time()))
        gate_a.refusing = False
        opened = time.time()

        report = await fault_stack.settled(within=45)
        assert report.holds, str(report)
        assert report.accepted == 2 * MAILS_EACH
        assert report.answers_requested == a_requested + b_report.answers_requested

    refusal = opened - first_refusal
    b_sent = await auto_replies(fault_stack, b_tenant)
    b_answers = answers_among(gate_b.delivered, b_sent)
    requested = {row.message_id: row.requested_at.timestamp() for row in b_sent}
    b_waits = {d.message_id: d.at - requested[d.message_id] for d in b_answers}
    assert len(b_waits) == len(b_answers) == b_report.answers_requested
    assert max(b_waits.values()) <= PROMPT_SECONDS < refusal / 2, (b_waits, refusal)
    assert all(d.at < opened for d in b_answers)
    # the two overlapped: A was refusing before B's last answer went out
    assert first_refusal < max(d.at for d in b_answers)
    assert {(r.status, r.attempts) for r in b_sent} == {("sent", 1)}

    a_sent = await auto_replies(fault_stack, fault_stack.tenant_id)
    assert {r.status for r in a_sent} == {"sent"}
    assert all(r.attempts >= 3 for r in a_sent), [r.attempts for r in a_sent]
    a_answers = answers_among(gate_a.delivered, a_sent)
    assert len(a_answers) == len({d.message_id for d in a_answers}) == a_requested
    assert all(d.at >= opened for d in gate_a.delivered)
    assert set(gate_a.refusals) == set(STAGES), gate_a.refusals  # refused at each stage
    assert sum(gate_a.refusals.values()) >= 2 * a_requested
    print(
        f"A refused {dict(gate_a.refusals)} over {refusal:.1f} s; "
        f"B's {len(b_waits)} answers each within {max(b_waits.values()):.1f} s of the request"
    )
