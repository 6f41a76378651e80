"""The pipeline as real processes for one fault scenario, and the source that feeds it.

`FaultStack` runs ingest, parser, router, notifier and outbound (and the
development mail sink, the tenant's SMTP server) with `Supervisor`, on a
database and RabbitMQ virtual host of the test's own, for the demo tenant
with every user always at work (so assignment does not depend on the hour).
The gateway is left out: no mail passes through it.

`post_until_accepted` is the source: a webhook client that, like a real
one, retries a refused or broken request until it hears 202; only then is
the mail "accepted" and counted by the invariant.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import httpx
from postdesk_cli.demo import address, seed_demo
from postdesk_cli.supervisor import Supervisor
from postdesk_ingest.domain import signature_headers
from postdesk_runtime.db import make_sessions
from postdesk_schema import EmailAccount, SmtpServer, Tenant, User
from postdesk_schema.logs import EmailProcessingLog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from tests.e2e.conftest import free_port_block
from tests.faults.invariant import AcceptedMail, Expectations, Report, check

ROOT = Path(__file__).resolve().parents[2]
# ../shared next to a checkout, else the workplace's copy (a clean clone elsewhere, in CI)
GEN_CORPUS = next(
    (
        path
        for path in (
            ROOT.parent / "shared" / "bench-corpus" / "gen_corpus.py",
            Path("/work/shared/bench-corpus/gen_corpus.py"),
        )
        if path.exists()
    ),
    Path("/work/shared/bench-corpus/gen_corpus.py"),
)
CORPUS_SEED = 20261126
PIPELINE = ("ingest", "parser", "router", "notifier", "outbound")
MAILSINK = "mailsink"
SECRET = "faults-webhook-secret"  # loopback-only test stack
MAILBOX = address("cs")
# Outbound takes back the sends of a sender that died once their claim is older than the
# lease (default 10 minutes, longer than any SMTP attempt): shortened here, as in
# services/outbound/tests/test_kill.py, so a scenario sees the recovery.
SERVICE_ENV = {"outbound": {"SENDING_LEASE_SECONDS": "4", "RECOVERY_INTERVAL_SECONDS": "0.5"}}
AUTO_REPLY = "Thank you, we have your mail and answer it soon."


def corpus(out: Path, count: int, seed: int = CORPUS_SEED) -> list[bytes]:
    """`count` mails of the seeded benchmark corpus (the same bytes on every run)."""
    target = out / f"corpus-{count}-{seed}"
    if not (target / "manifest.jsonl").exists():
        subprocess.run(
            [
                *(sys.executable, str(GEN_CORPUS), "--out", str(target)),
                *("--count", str(count), "--seed", str(seed)),
            ],
            check=True,
            capture_output=True,
        )
    lines = (target / "manifest.jsonl").read_text().splitlines()
    return [(target / "msgs" / json.loads(line)["file"]).read_bytes() for line in lines]


def message_id_of(raw: bytes) -> str:
    found = message_from_bytes(raw, policy=policy.default)["Message-ID"]
    assert found, "every scenario mail has a Message-ID"
    return str(found).strip()


@dataclass
class FaultStack:
    database_url: str
    amqp_url: str
    blob_dir: Path
    engine: AsyncEngine
    tenant_id: uuid.UUID
    supervisor: Supervisor
    log: io.StringIO
    accepted: dict[str, AcceptedMail] = field(default_factory=dict)  # by raw sha256

    @property
    def sent_mail(self) -> Path:
        """Where the mail sink keeps what the tenant's SMTP server was sent."""
        return sent_mail_dir(self.blob_dir)

    async def start(self, *names: str, ready_within: float = 60) -> None:
        """Start `names` (default: the whole pipeline and the sink) and wait until ready."""
        for name in names or (*PIPELINE, MAILSINK):
            self.supervisor.start(name, **SERVICE_ENV.get(name, {}))
        await asyncio.to_thread(self.supervisor.wait_ready, ready_within)

    def kill(self, name: str) -> int:
        """kill -9 of the service's whole process group; returns its exit status."""
        process = self.supervisor.processes[name].process
        os.killpg(process.pid, signal.SIGKILL)
        return self.supervisor.stop(name, timeout=10)

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.supervisor.ports['ingest']}"

    def accept(self, raw: bytes, tenant_id: uuid.UUID | None = None) -> AcceptedMail:
        mail = AcceptedMail(
            tenant_id or self.tenant_id, message_id_of(raw), hashlib.sha256(raw).hexdigest()
        )
        self.accepted[mail.sha256] = mail
        return mail

    async def post(
        self,
        client: httpx.AsyncClient,
        raw: bytes,
        *,
        rcpt: str = MAILBOX,
        tenant_id: uuid.UUID | None = None,
    ) -> httpx.Response:
        """One webhook delivery of `raw` to `rcpt` (default: the demo tenant's mailbox; another
        tenant's with its `tenant_id`); counts the mail accepted on a 202."""
        response = await client.post(
            f"{self.ingest_url}/webhooks/raw",
            content=raw,
            params={"rcpt": rcpt},
            headers={"Content-Type": "message/rfc822", **signature_headers(SECRET, raw)},
        )
        if response.status_code == 202:
            self.accept(raw, tenant_id)
        return response

    async def post_until_accepted(
        self,
        client: httpx.AsyncClient,
        raw: bytes,
        *,
        within: float = 60,
        rcpt: str = MAILBOX,
        tenant_id: uuid.UUID | None = None,
        broken: Counter[str] | None = None,
    ) -> httpx.Response:
        """Deliver `raw` as a retrying source does: again after a refusal (503) or a broken
        connection (the service died), until a 202. Broken connections count in `broken`."""
        deadline = time.monotonic() + within
        while True:
            try:
                response = await self.post(client, raw, rcpt=rcpt, tenant_id=tenant_id)
                if response.status_code == 202:
                    return response
                assert response.status_code == 503, (response.status_code, response.text)
            except httpx.TransportError:  # ingest is down or died mid-request: nothing acknowledged
                if broken is not None:
                    broken["broken"] += 1
            assert time.monotonic() < deadline, f"not accepted within {within} s"
            await asyncio.sleep(0.2)

    async def check(
        self, expect: Expectations | None = None, mails: Sequence[AcceptedMail] | None = None
    ) -> Report:
        chosen = list(self.accepted.values()) if mails is None else list(mails)
        return await check(self.engine, self.amqp_url, chosen, expect, self.sent_mail)

    async def settled(
        self,
        expect: Expectations | None = None,
        mails: Sequence[AcceptedMail] | None = None,
        *,
        within: float = 45,
        quiet: float = 1.5,
    ) -> Report:
        """The report once the invariant holds and still holds `quiet` seconds later (a late
        redelivery or duplicate would show by then); the last report if it never holds."""
        deadline = time.monotonic() + within
        while True:
            report = await self.check(expect, mails)
            if report.holds:
                await asyncio.sleep(quiet)
                report = await self.check(expect, mails)
                if report.holds:
                    return report
            if time.monotonic() > deadline:
                return report
            await asyncio.sleep(0.5)


def sent_mail_dir(blob_dir: Path) -> Path:
    return blob_dir.parent / "sent-mail"


async def prepare_tenant(engine: AsyncEngine, smtp_port: int) -> uuid.UUID:
    """The demo tenant, its users always working, its SMTP server the stack's mail sink, and
    an auto-reply on the mailbox, so that mails are answered."""
    sessions = make_sessions(engine)
    demo = await seed_demo(sessions)
    async with sessions() as session, session.begin():
        await session.execute(
            update(User).where(col(User.tenant_id) == demo.tenant_id).values(working_hours={})
        )
        await session.execute(
            update(SmtpServer)
            .where(col(SmtpServer.tenant_id) == demo.tenant_id)
            .values(port=smtp_port)
        )
        # a one-second undo window, so answers go out within a scenario (the demo tenant
        # has no other settings to keep)
        await session.execute(
            update(Tenant)
            .where(col(Tenant.id) == demo.tenant_id)
            .values(settings={"outbound": {"undo_seconds": 1}})
        )
        await session.execute(
            update(EmailAccount)
            .where(col(EmailAccount.address) == MAILBOX)
            .values(auto_reply_enabled=True, auto_reply_message=AUTO_REPLY)
        )
    return demo.tenant_id


def make_supervisor(
    database_url: str, amqp_url: str, blob_dir: Path, log: io.StringIO
) -> tuple[Supervisor, int]:
    """A supervisor for the pipeline and the sink; also the sink's SMTP port."""
    names = (*PIPELINE, MAILSINK)
    base = free_port_block(len(names) + 1)
    smtp_port = base + len(names)
    supervisor = Supervisor(
        env={
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "BLOB_DIR": str(blob_dir),
            "INGEST_WEBHOOK_SECRET": SECRET,
            "INGEST_RATE_PER_SOURCE": "off",
            "INGEST_RATE_PER_TENANT": "off",
            "LOG_FORMAT": "console",
            "LOG_LEVEL": "INFO",
            "MAILSINK_SMTP_PORT": str(smtp_port),
            "MAILSINK_DIR": str(sent_mail_dir(blob_dir)),
            # six processes share the test server's 100 connections with other tests
            "DB_POOL_SIZE": "2",
        },
        ports={name: base + i for i, name in enumerate(names)},
        sink=log,
    )
    return supervisor, smtp_port


async def ingest_rows(stack: FaultStack) -> list[tuple[str, str]]:
    """(sha256, status) of every ingest processing-log row (the database is the test's own)."""
    async with stack.engine.connect() as conn:
        rows = await conn.execute(
            select(col(EmailProcessingLog.sha256), col(EmailProcessingLog.status)).where(
                col(EmailProcessingLog.stage) == "ingest"
            )
        )
        return sorted((row.sha256, row.status) for row in rows)


def published(raws: list[bytes]) -> list[tuple[str, str]]:
    return sorted((hashlib.sha256(raw).hexdigest(), "published") for raw in raws)
