"""Outbound: messages per second through the sender to a local SMTP sink.

Generates the seeded corpus (gen_corpus.py, `--messages` mails) and turns
every mail into an agent's reply to it, parsed once with the real parser:
the mail's text (and HTML, when it has some) stands for the reply's body, its
attachments (about 12%, 20-50 KB) go into the encrypted blob store and ride
along, To is the customer, In-Reply-To and References continue the thread.

In a fresh migrated database (no RabbitMQ: the sender only writes outbox
rows), each run seeds `--tenants` tenants of its own. Each has an account
with a signature, three agents (two with a signature of their own), a ticket
per corpus thread, the default SMTP server (`save_server`) pointing at the
run's sink, and the settings `{"outbound": {"undo_seconds": 0, "quota":
...}}`, with quotas far above the run so their checks run but never defer
(the default 120 per tenant and minute would cap a tenant at 2 per second).
The threads are dealt to the tenants in turn. The sink is aiosmtpd
(postdesk_testing.smtp) in a process of its own on 127.0.0.1, no TLS, or
STARTTLS with a test CA (`--tls` adds those runs; the senders trust the
system's CA bundle plus the test CA, so every connection loads a whole
trust store as in production).

The senders are processes, as replicas are: each has its own engine (the
service's pool size) and drains `send_due` (the service's batch) until it
claims nothing, the loop the service's Periodic runs when every batch is
full. Before the timed part each sender in turn sends `--warm-up` messages
of the run's warm-up tenant (pooled connections, prepared statements,
SQLAlchemy's caches). Then the run's messages are recorded with `db.record_request` as
the consumer records them (due at once: no undo window), the database
ANALYZEd, and all senders started together.

For each run it prints messages/s; p50/p95/p99 per message from its claim
(`claimed_at`) to its `sent` commit (including the wait behind the batch's
earlier messages of the same tenant) and of the attempt alone; where the
attempt's time goes, from wrappers around the sender's steps (SMTP
transaction, quota checks, render, commits ...); SQL statements, commits and
connections opened per message with the costliest statements; CPU per
message of the senders, the sink and PostgreSQL; the senders' peak RSS. It
checks that every message is `sent` after one attempt, that the sink received
exactly as many messages with distinct Message-IDs, those of the rows, and
that the outbox holds one mail.sent each. `--history` gives every tenant that
many earlier sent messages (two days and more ago) first; `--profile` adds a
run under cProfile (one sender, the first tenant count).

    uv run python bench/outbound.py [--messages 2000] [--tenants 1 20] [--senders 1 3] [--tls]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import io
import json
import multiprocessing
import os
import pstats
import ssl
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import psutil
from postdesk_contracts import Address, EventType, OutboundRequested, new_envelope
from postdesk_contracts.events import Attachment
from postdesk_outbound import compose as compose_module
from postdesk_outbound import db as outbound_db
from postdesk_outbound import render as render_module
from postdesk_outbound import sender as sender_module
from postdesk_outbound.domain import first_attempt_at
from postdesk_outbound.sender import send_due
from postdesk_outbound.settings import OutboundSettings
from postdesk_parser.domain import parse_mail
from postdesk_runtime import (
    BlobStore,
    Sessions,
    ThreadTokens,
    configure_logging,
    make_blob_store,
    make_engine,
    make_sessions,
)
from postdesk_runtime.keyring import Keyring
from postdesk_schema import EmailAccount, Tenant, Ticket, User
from postdesk_smtp.settings import ServerChanges, save_server
from postdesk_testing.infra import IsolatedDatabase
from postdesk_testing.smtp import (
    HOST,
    CertificateFiles,
    TlsMode,
    make_certificate,
    smtp_server,
)
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import ROOT, corpus, percentile  # bench/ is not a package
from routing import ProcessUse, StatementCounter, analyze, ms, own_time_by_owner

# Far above any run: the checks run (three statements per message) but never defer.
QUOTA = {"per_user_per_day": 10**7, "per_account_per_day": 10**7, "per_tenant_per_minute": 10**7}
RECORD_CHUNK = 250
SYSTEM_CA_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


# ---- the corpus as replies --------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """An agent's answer to one corpus mail; `thread` is the index of the thread's first mail."""

    thread: int
    customer: Address
    subject: str
    text: str
    html: str | None
    in_reply_to: str
    references: list[str]
    attachments: list[Attachment]


async def replies_to(mails: list[bytes], blobs: BlobStore) -> list[Reply]:
    """One reply per mail, its attachments stored in the blob store (the corpus sends parents
    before their replies)."""
    index_of: dict[str, int] = {}
    roots: list[int] = []
    replies: list[Reply] = []
    for index, raw in enumerate(mails):
        parsed = parse_mail(raw)
        parent = next((index_of[m] for m in parsed.in_reply_to if m in index_of), None)
        roots.append(index if parent is None else roots[parent])
        index_of[parsed.message_id] = index
        attachments = [
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                size=len(part.data),
                blob_ref=await blobs.put(part.data),
                content_id=part.content_id,
                inline=part.inline,
            )
            for part in parsed.attachments
        ]
        replies.append(
            Reply(
                thread=roots[-1],
                customer=parsed.reply_to[0] if parsed.reply_to else parsed.from_,
                subject=f"Re: {parsed.normalized_subject or parsed.subject or 'your message'}",
                text=parsed.text or "",
                html=parsed.html,
                in_reply_to=parsed.message_id,
                references=[*parsed.references, parsed.message_id],
                attachments=attachments,
            )
        )
    return replies


def corpus_figures(replies: list[Reply]) -> dict[str, Any]:
    return {
        "replies": len(replies),
        "threads": len({r.thread for r in replies}),
        "with_html": sum(1 for r in replies if r.html),
        "with_attachments": sum(1 for r in replies if r.attachments),
        "text_chars_p50": int(percentile([float(len(r.text)) for r in replies], 50)),
        "text_chars_p95": int(percentile([float(len(r.text)) for r in replies], 95)),
    }


# ---- tenants and their requests ---------------------------------------------------------------


@dataclass(frozen=True)
class BenchTenant:
    tenant_id: uuid.UUID
    account_id: uuid.UUID
    agents: list[uuid.UUID]
    tickets: dict[int, uuid.UUID]  # thread -> ticket


async def seed_tenant(
    sessions: Sessions,
    keyring: Keyring,
    name: str,
    *,
    port: int,
    security: str,
    replies: Sequence[Reply],
) -> BenchTenant:
    """A tenant with an account, three agents, the default SMTP server and a ticket per
    thread of `replies`."""
    suffix = f"{name}-{uuid.uuid4().hex[:6]}"
    tenant = Tenant(
        name=f"Bench {suffix}",
        slug=f"bench-{suffix}",
        settings={"outbound": {"undo_seconds": 0, "quota": QUOTA}},
    )
    account = EmailAccount(
        tenant_id=tenant.id,
        address=f"support-{suffix}@acme-helpdesk.example",
        display_name="ACME Support",
        signature="ACME Support\nhttps://acme-helpdesk.example/help",
    )
    agents = [
        User(
            tenant_id=tenant.id,
            email=f"{who}-{suffix}@acme-helpdesk.example",
            password_hash="!",  # noqa: S106  # not a hash: bench users never log in
            full_name=who.title(),
            email_signature=f"{who.title()}\nACME Support" if who != "carol" else "",
        )
        for who in ("alice", "bob", "carol")
    ]
    threads = list(dict.fromkeys(r.thread for r in replies))
    first = {r.thread: r for r in reversed(replies)}
    tickets = [
        Ticket(
            tenant_id=tenant.id,
            number=number,
            account_id=account.id,
            subject=first[thread].subject.removeprefix("Re: "),
            customer_email=first[thread].customer.email,
            customer_name=first[thread].customer.name or "",
        )
        for number, thread in enumerate(threads, start=1)
    ]
    async with sessions() as session, session.begin():
        for row in (tenant, account, *agents):
            session.add(row)
            await session.flush()  # no relationships declared: insert in dependency order
        session.add_all(tickets)
        await save_server(
            session,
            keyring,
            tenant_id=tenant.id,
            account_id=None,
            changes=ServerChanges(host=HOST, port=port, security=security, timeout=30.0),
        )
    return BenchTenant(
        tenant.id,
        account.id,
        [a.id for a in agents],
        {thread: t.id for thread, t in zip(threads, tickets, strict=True)},
    )


async def add_history(sessions: Sessions, tenant: BenchTenant, count: int) -> None:
    """`count` messages the tenant sent two days ago and earlier (no ticket), one a minute."""
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                """
                INSERT INTO outbound_messages (id, tenant_id, account_id, kind, status, subject,
                    attempts, requested_by, sent_at, created_at, updated_at)
                SELECT gen_random_uuid(), :tenant, :account, 'reply', 'sent', 'History ' || g, 1,
                    (ARRAY[CAST(:a0 AS uuid), CAST(:a1 AS uuid), CAST(:a2 AS uuid)])[1 + g % 3],
                    at, at, at
                FROM generate_series(1, :n) AS g,
                    LATERAL (SELECT now() - interval '2 days' - g * interval '1 minute' AS at) AS t
                """
            ),
            {
                "tenant": tenant.tenant_id,
                "account": tenant.account_id,
                "a0": tenant.agents[0],
                "a1": tenant.agents[1],
                "a2": tenant.agents[2],
                "n": count,
            },
        )


async def record(sessions: Sessions, plan: Sequence[tuple[BenchTenant, Reply]]) -> None:
    """Record one outbound.requested per (tenant, reply) as the consumer does: due at once
    (no undo window), in plan order (one microsecond apart)."""
    began = datetime.now(UTC) - timedelta(seconds=1)
    for start in range(0, len(plan), RECORD_CHUNK):
        async with sessions() as session, session.begin():
            for index, (tenant, reply) in enumerate(plan[start : start + RECORD_CHUNK], start):
                request = OutboundRequested(
                    outbound_id=uuid.uuid4(),
                    account_id=tenant.account_id,
                    ticket_id=tenant.tickets[reply.thread],
                    kind="reply",
                    to=[reply.customer],
                    subject=reply.subject,
                    text=reply.text,
                    html=reply.html,
                    in_reply_to=reply.in_reply_to,
                    references=reply.references,
                    requested_by=tenant.agents[index % len(tenant.agents)],
                    attachments=reply.attachments,
                )
                envelope = new_envelope(
                    EventType.OUTBOUND_REQUESTED, request, tenant_id=tenant.tenant_id
                )
                recorded_at = began + timedelta(microseconds=index)
                await outbound_db.record_request(
                    session,
                    tenant_id=tenant.tenant_id,
                    event=envelope,
                    next_attempt_at=first_attempt_at(recorded_at, None, 0),
                    now=recorded_at,
                )


# ---- the sink: aiosmtpd in a process of its own -----------------------------------------------


@dataclass(frozen=True)
class Delivery:
    message_id: str
    recipients: int
    size: int
    tls: bool


def sink_main(conn: Connection, certificate: CertificateFiles | None) -> None:
    asyncio.run(serve_sink(conn, certificate))


async def serve_sink(conn: Connection, certificate: CertificateFiles | None) -> None:
    """Accept every message; on "report", send what arrived since the last report."""
    headers = BytesHeaderParser(policy=default_policy)
    tls: TlsMode = "starttls" if certificate is not None else "none"
    async with smtp_server(tls=tls, certificate=certificate) as server:
        conn.send(server.port)
        while await asyncio.to_thread(conn.recv) == "report":
            received = list(server.received)
            del server.received[:]
            conn.send(
                [
                    Delivery(
                        str(headers.parsebytes(r.data).get("message-id", "")),
                        len(r.rcpt_tos),
                        len(r.data),
                        r.tls,
                    )
                    for r in received
                ]
            )


# ---- the senders: processes, as replicas are --------------------------------------------------


@dataclass(frozen=True)
class SenderJob:
    database_url: str
    blob_dir: str
    batch: int
    pool_size: int
    log_level: str
    ca_bundle: str | None
    profile: bool


@dataclass
class Steps:
    """Time spent in the sender's steps, summed over a run, from wrappers around the module
    functions the sender looks up when it calls them (nested steps are included in their
    callers: transmit includes mark_transmitting, prepare includes render)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    attempts: list[float] = field(default_factory=list)
    ended: dict[str, float] = field(default_factory=dict)  # outbound id -> wall clock

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self.attempts.clear()
        self.ended.clear()

    def timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def add(began: float) -> None:
            self.seconds[label] += time.perf_counter() - began
            self.calls[label] += 1

        if inspect.iscoroutinefunction(function):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await function(*args, **kwargs)
                finally:
                    add(began)

            return timed_async

        def timed_sync(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                add(began)

        return timed_sync

    def install(self, blobs: BlobStore) -> None:
        """Wrap each step where the sender finds it: a name it imported, else the db module's."""
        hooks = [
            ("claim_due", "claim"),
            ("_prepare", "prepare"),
            ("load_target", "load_target"),
            ("quota_block", "quota"),
            ("render", "render"),
            ("_mark_transmitting", "mark_transmitting"),
            ("transmit", "transmit"),
            ("_record", "record"),
        ]
        for name, label in hooks:
            module = next((m for m in (sender_module, outbound_db) if hasattr(m, name)), None)
            if module is None:
                raise SystemExit(f"the sender no longer calls {name}: update bench/outbound.py")
            setattr(module, name, self.timed(label, getattr(module, name)))
        compose = self.timed("compose", compose_module.compose)
        setattr(render_module, "compose", compose)  # noqa: B010  # replacing the module's function
        setattr(blobs, "put", self.timed("blob_put", blobs.put))  # noqa: B010  # an instance's method
        attempt = sender_module._attempt

        async def timed_attempt(tools: Any, one: Any) -> None:
            began = time.perf_counter()
            await attempt(tools, one)
            self.attempts.append(time.perf_counter() - began)
            self.ended[str(one.claim.id)] = time.time()

        setattr(sender_module, "_attempt", timed_attempt)  # noqa: B010  # replacing the module's function


def sender_main(conn: Connection, job: SenderJob) -> None:
    if job.ca_bundle is not None:
        # read by OpenSSL whenever a client context loads the default trust store
        os.environ["SSL_CERT_FILE"] = job.ca_bundle
    configure_logging("outbound", "json", job.log_level)
    asyncio.run(serve_sender(conn, job))


async def drain(
    sessions: Sessions, blobs: BlobStore, keyring: Keyring, tokens: ThreadTokens, batch: int
) -> tuple[int, int]:
    """send_due until it claims nothing: (messages claimed, calls)."""
    claimed = calls = 0
    while True:
        calls += 1
        done = await send_due(sessions, blobs, keyring, tokens, batch=batch)
        if not done:
            return claimed, calls
        claimed += done


async def serve_sender(conn: Connection, job: SenderJob) -> None:
    """Commands from the bench: "warm" (drain, untimed), "go" (drain, timed), "stop"."""
    engine = make_engine(job.database_url, pool_size=job.pool_size)
    counter = StatementCounter()
    counter.attach(engine)
    opened = [0]

    def connected(*_: Any) -> None:
        opened[0] += 1

    event.listen(engine.sync_engine, "connect", connected)
    sessions = make_sessions(engine)
    settings = OutboundSettings(blob_dir=Path(job.blob_dir))
    blobs = make_blob_store(settings)
    keyring = settings.keyring()
    tokens = ThreadTokens.from_keyring(keyring)
    steps = Steps()
    steps.install(blobs)
    try:
        while (command := await asyncio.to_thread(conn.recv)) != "stop":
            if command == "warm":
                conn.send(await drain(sessions, blobs, keyring, tokens, job.batch))
                continue
            steps.reset()
            counter.reset()
            opened[0] = 0
            profile = cProfile.Profile() if job.profile else None
            with ProcessUse() as use:
                started = time.time()
                if profile is not None:
                    profile.enable()
                claimed, calls = await drain(sessions, blobs, keyring, tokens, job.batch)
                if profile is not None:
                    profile.disable()
                finished = time.time()
            conn.send(
                {
                    "claimed": claimed,
                    "send_due_calls": calls,
                    "started": started,
                    "finished": finished,
                    "seconds": dict(steps.seconds),
                    "calls": dict(steps.calls),
                    "attempts": steps.attempts,
                    "ended": steps.ended,
                    "statements": counter.statements,
                    "commits": counter.commits,
                    "rollbacks": counter.rollbacks,
                    "statement_seconds": counter.seconds,
                    "by_text": counter.by_text,
                    "connections_opened": opened[0],
                    "cpu_seconds": use.cpu_seconds,
                    "rss_start": use.start,
                    "rss_peak": use.peak,
                    "profile": profile_report(profile, claimed) if profile else None,
                }
            )
    finally:
        await engine.dispose()


def profile_report(profile: cProfile.Profile, messages: int, limit: int = 25) -> str:
    """Top functions by cumulative and own time, and own time per package."""
    report = io.StringIO()
    for key in ("cumulative", "tottime"):
        pstats.Stats(profile, stream=report).sort_stats(key).print_stats(limit)
    stats = pstats.Stats(profile)
    total: float = stats.total_tt  # type: ignore[attr-defined]
    report.write(f"own time by package ({total:.2f} s under the profiler):\n")
    for name, seconds in own_time_by_owner(stats):
        if seconds >= total / 200:
            report.write(
                f"  {name:<40} {seconds:7.2f} s {seconds / total:6.1%}"
                f" {seconds * 1000 / max(messages, 1):7.2f} ms/message\n"
            )
    return report.getvalue()


# ---- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    database_url: str
    engine: AsyncEngine
    sessions: Sessions
    keyring: Keyring
    blob_dir: str
    replies: list[Reply]
    thread_rank: dict[int, int]  # threads are dealt to the tenants in this order
    certificate: CertificateFiles | None
    ca_bundle: str | None
    args: argparse.Namespace


@dataclass(frozen=True)
class RunSpec:
    tenants: int
    senders: int
    security: str  # none | starttls
    profile: bool = False
    history: int = 0

    @property
    def name(self) -> str:
        tls = "STARTTLS" if self.security == "starttls" else "plain"
        tenants = "tenant" if self.tenants == 1 else "tenants"
        senders = "sender" if self.senders == 1 else "senders"
        name = f"{self.tenants} {tenants}, {self.senders} {senders}, {tls}"
        if self.history:
            name += f", {self.history} sent before per tenant"
        return name + (", cProfile" if self.profile else "")


def spawn(target: Callable[..., None], *args: Any) -> tuple[BaseProcess, Connection]:
    context = multiprocessing.get_context("spawn")  # no fork of a process with an event loop
    ours, theirs = context.Pipe()
    process = context.Process(target=target, args=(theirs, *args), daemon=True)
    process.start()
    return process, ours


async def ask(conn: Connection, command: str) -> Any:
    conn.send(command)
    return await asyncio.to_thread(conn.recv)


class CpuMeter:
    """CPU seconds of PostgreSQL's processes (those alive at the end: a backend that exited
    in between is missed), of the sink, and the machine's busy share."""

    def __init__(self, sink_pid: int) -> None:
        self._sink = psutil.Process(sink_pid)
        self._postgres = self._postgres_cpu()
        self._sink_cpu = self._cpu(self._sink)
        self._machine = psutil.cpu_times()

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    @classmethod
    def _postgres_cpu(cls) -> dict[int, float]:
        used: dict[int, float] = {}
        for process in psutil.process_iter(["name"]):
            if process.info["name"] == "postgres":
                try:
                    used[process.pid] = cls._cpu(process)
                except psutil.Error:
                    continue
        return used

    def read(self) -> dict[str, float]:
        now = self._postgres_cpu()
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - machine.iowait
        busy_before = sum(self._machine) - self._machine.idle - self._machine.iowait
        return {
            "postgres": sum(now[pid] - self._postgres.get(pid, 0.0) for pid in now),
            "sink": self._cpu(self._sink) - self._sink_cpu,
            "machine_busy_share": (busy - busy_before)
            / max(sum(machine) - sum(self._machine), 1e-9),
        }


async def warm_up(
    bench: Bench, senders: list[Connection], port: int, security: str
) -> tuple[BenchTenant, int]:
    """Each sender in turn sends `--warm-up` messages of a warm-up tenant, untimed."""
    count = min(bench.args.warm_up, len(bench.replies))
    replies = bench.replies[:count]
    tenant = await seed_tenant(
        bench.sessions,
        bench.keyring,
        "warmup",
        port=port,
        security=security,
        replies=replies,
    )
    sent = 0
    for conn in senders:
        await record(bench.sessions, [(tenant, r) for r in replies])
        claimed, _ = await ask(conn, "warm")
        sent += claimed
    return tenant, sent


async def run(bench: Bench, spec: RunSpec) -> dict[str, Any]:
    """Seed, warm up, record, send with `spec.senders` processes; the figures, verified."""
    args = bench.args
    certificate = bench.certificate if spec.security == "starttls" else None
    sink, sink_conn = spawn(sink_main, certificate)
    processes: list[BaseProcess] = []
    try:
        port = await asyncio.to_thread(sink_conn.recv)
        job = SenderJob(
            database_url=bench.database_url,
            blob_dir=bench.blob_dir,
            batch=args.batch,
            pool_size=args.pool_size,
            log_level=args.log_level,
            ca_bundle=bench.ca_bundle if spec.security == "starttls" else None,
            profile=spec.profile,
        )
        senders: list[Connection] = []
        for _ in range(spec.senders):
            process, conn = spawn(sender_main, job)
            processes.append(process)
            senders.append(conn)
        _, warmed = await warm_up(bench, senders, port, spec.security)
        warm_deliveries = await ask(sink_conn, "report")
        if len(warm_deliveries) != warmed:
            raise SystemExit(f"warm-up: sent {warmed}, the sink received {len(warm_deliveries)}")

        tenants = [
            await seed_tenant(
                bench.sessions,
                bench.keyring,
                f"t{i}",
                port=port,
                security=spec.security,
                replies=[
                    r for r in bench.replies if bench.thread_rank[r.thread] % spec.tenants == i
                ],
            )
            for i in range(spec.tenants)
        ]
        for tenant in tenants:
            if spec.history:
                await add_history(bench.sessions, tenant, spec.history)
        plan = [(tenants[bench.thread_rank[r.thread] % spec.tenants], r) for r in bench.replies]
        await record(bench.sessions, plan)
        mail_sent_before = await count_mail_sent(bench.sessions)
        await analyze(bench.engine)

        meter = CpuMeter(sink.pid or 0)
        began = time.perf_counter()
        for conn in senders:
            conn.send("go")
        figures: list[dict[str, Any]] = [await asyncio.to_thread(c.recv) for c in senders]
        wall = time.perf_counter() - began
        cpu = meter.read()
        deliveries: list[Delivery] = await ask(sink_conn, "report")
        mail_sent = await count_mail_sent(bench.sessions) - mail_sent_before
        rows = await sent_rows(bench.sessions, [t.tenant_id for t in tenants])
        for conn in senders:
            conn.send("stop")
        sink_conn.send("stop")
    finally:
        for process in [*processes, sink]:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
    verify(spec, len(plan), rows, deliveries, mail_sent)
    return figures_of(spec, len(plan), wall, rows, figures, deliveries, cpu, args.top_statements)


async def count_mail_sent(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(
            (
                await session.execute(
                    text(
                        "SELECT count(DISTINCT id) FROM outbox "
                        "WHERE service = 'outbound' AND routing_key = 'mail.sent'"
                    )
                )
            ).scalar_one()
        )


@dataclass(frozen=True)
class SentRow:
    id: str
    status: str
    attempts: int
    claimed_at: float | None
    message_id: str | None


async def sent_rows(sessions: Sessions, tenant_ids: list[uuid.UUID]) -> list[SentRow]:
    """The run's messages (not the history)."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT id, status, attempts, claimed_at, message_id_header FROM outbound_messages "
                "WHERE tenant_id = ANY(:tenants) AND kind = 'reply' AND subject NOT LIKE 'History %'"
            ),
            {"tenants": tenant_ids},
        )
        return [
            SentRow(
                str(r.id),
                r.status,
                r.attempts,
                r.claimed_at.timestamp() if r.claimed_at else None,
                r.message_id_header,
            )
            for r in rows
        ]


def verify(
    spec: RunSpec,
    expected: int,
    rows: list[SentRow],
    deliveries: list[Delivery],
    mail_sent: int,
) -> None:
    """Every message sent once, after one attempt; the sink got exactly those Message-IDs."""
    statuses = Counter((r.status, r.attempts) for r in rows)
    ids = [d.message_id for d in deliveries]
    wanted = {f"<{r.message_id}>" for r in rows}
    problems = []
    if statuses != Counter({("sent", 1): expected}):
        problems.append(f"rows (status, attempts): {dict(statuses)}")
    if len(ids) != expected or len(set(ids)) != expected:
        problems.append(f"sink: {len(ids)} messages, {len(set(ids))} distinct Message-IDs")
    if set(ids) != wanted:
        problems.append(f"sink and rows differ in {len(set(ids) ^ wanted)} Message-IDs")
    if mail_sent != expected:
        problems.append(f"{mail_sent} mail.sent events in the outbox")
    if spec.security == "starttls" and not all(d.tls for d in deliveries):
        problems.append("messages received without TLS")
    if problems:
        raise SystemExit(f"{spec.name}: expected {expected} messages: " + "; ".join(problems))


def figures_of(
    spec: RunSpec,
    messages: int,
    wall: float,
    rows: list[SentRow],
    figures: list[dict[str, Any]],
    deliveries: list[Delivery],
    cpu: dict[str, float],
    top: int,
) -> dict[str, Any]:
    seconds: dict[str, float] = defaultdict(float)
    for each in figures:
        for label, spent in each["seconds"].items():
            seconds[label] += spent
    ended = {k: v for each in figures for k, v in each["ended"].items()}
    latencies = [ended[r.id] - r.claimed_at for r in rows if r.claimed_at is not None]
    attempts = [a for each in figures for a in each["attempts"]]
    attempt_total = sum(attempts)

    def per_message(value: float) -> float:
        return round(value * 1000 / messages, 3)

    smtp = seconds["transmit"] - seconds["mark_transmitting"]
    prepare_rest = (
        seconds["prepare"] - seconds["load_target"] - seconds["quota"] - seconds["render"]
    )
    attempt_rest = (
        attempt_total
        - seconds["prepare"]
        - seconds["blob_put"]
        - seconds["transmit"]
        - seconds["record"]
    )
    by_text: dict[str, list[float]] = {}
    for each in figures:
        for sql, (n, spent) in each["by_text"].items():
            entry = by_text.setdefault(sql, [0, 0.0])
            entry[0] += n
            entry[1] += spent
    costliest = sorted(by_text.items(), key=lambda item: item[1][1], reverse=True)[:top]
    statements = sum(each["statements"] for each in figures)
    ours = sum(each["cpu_seconds"] for each in figures) + cpu["sink"] + cpu["postgres"]
    cores = psutil.cpu_count() or 1
    started = min(each["started"] for each in figures)
    finished = max(each["finished"] for each in figures)
    return {
        "run": spec.name,
        "tenants": spec.tenants,
        "senders": spec.senders,
        "security": spec.security,
        "history_per_tenant": spec.history,
        "messages": messages,
        "seconds": round(wall, 2),
        "messages_per_s": round(messages / wall, 1),
        "senders_busy_s": round(finished - started, 2),
        "latency_claim_to_sent_ms": {
            "p50": ms(percentile(latencies, 50)),
            "p95": ms(percentile(latencies, 95)),
            "p99": ms(percentile(latencies, 99)),
            "max": ms(max(latencies)),
        },
        "attempt_ms": {
            "mean": ms(attempt_total / len(attempts)),
            "p50": ms(percentile(attempts, 50)),
            "p95": ms(percentile(attempts, 95)),
            "p99": ms(percentile(attempts, 99)),
        },
        "smtp_share_of_attempt_time": round(smtp / attempt_total, 3),
        # summed over all attempts (concurrent ones overlap), divided by the messages
        "ms_per_message": {
            "claim (statement, per message)": per_message(seconds["claim"]),
            "load SMTP server": per_message(seconds["load_target"]),
            "quota checks": per_message(seconds["quota"]),
            "render (reads, attachments, compose)": per_message(seconds["render"]),
            "of which compose": per_message(seconds["compose"]),
            "prepare's session and request validation": per_message(prepare_rest),
            "store the sent copy (blob put)": per_message(seconds["blob_put"]),
            "commit transmitting_at before DATA": per_message(seconds["mark_transmitting"]),
            "SMTP transaction": per_message(smtp),
            "record sent with mail.sent (commit)": per_message(seconds["record"]),
            "rest of the attempt (as_bytes, bookkeeping)": per_message(attempt_rest),
            "attempt in all": per_message(attempt_total),
        },
        "send_due_calls": sum(each["send_due_calls"] for each in figures),
        "sql_statements_per_message": round(statements / messages, 2),
        "commits_per_message": round(sum(each["commits"] for each in figures) / messages, 2),
        "statement_ms_per_message": per_message(sum(each["statement_seconds"] for each in figures)),
        "db_connections_opened": sum(each["connections_opened"] for each in figures),
        "costliest_statements": [
            {
                "per_message": round(n / messages, 2),
                "ms_per_message": per_message(spent),
                "sql": sql,
            }
            for sql, (n, spent) in costliest
        ],
        "cpu_ms_per_message": {
            "senders": per_message(sum(each["cpu_seconds"] for each in figures)),
            "sink": per_message(cpu["sink"]),
            "postgres": per_message(cpu["postgres"]),
        },
        # cores in use during the run: this bench's processes and PostgreSQL, and the rest
        # of the machine (other work on a shared host)
        "cores_busy": {
            "bench_and_postgres": round(ours / wall, 2),
            "others": round(max(cpu["machine_busy_share"] * cores - ours / wall, 0.0), 2),
        },
        "sender_rss_mib": {
            "start": [round(each["rss_start"] / 2**20, 1) for each in figures],
            "peak": [round(each["rss_peak"] / 2**20, 1) for each in figures],
        },
        "sink": {
            "received": len(deliveries),
            "distinct_message_ids": len({d.message_id for d in deliveries}),
            "bytes_p50": int(percentile([float(d.size) for d in deliveries], 50)),
            "bytes_max": max(d.size for d in deliveries),
            "over_tls": sum(1 for d in deliveries if d.tls),
        },
        "profile": next((each["profile"] for each in figures if each["profile"]), None),
    }


# ---- the whole bench --------------------------------------------------------------------------


def ca_bundle(directory: Path, certificate: CertificateFiles) -> Path:
    """The system's trust store plus the test CA: what a sender loads for every connection."""
    system = next((Path(p) for p in SYSTEM_CA_FILES if Path(p).exists()), None)
    bundle = directory / "bundle.pem"
    parts = [system.read_bytes()] if system is not None else []
    bundle.write_bytes(b"".join([*parts, certificate.ca_file.read_bytes()]))
    return bundle


def context_build_ms(bundle: Path, rounds: int = 50) -> float:
    """What one client TLS context costs to build with this trust store (aiosmtplib builds
    one per connection)."""
    began = time.perf_counter()
    for _ in range(rounds):
        ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(bundle))
    return round((time.perf_counter() - began) * 1000 / rounds, 2)


def specs(args: argparse.Namespace) -> list[RunSpec]:
    securities = ["none", "starttls"] if args.tls else ["none"]
    runs = [
        RunSpec(tenants, senders, security, history=args.history)
        for security in securities
        for tenants in args.tenants
        for senders in args.senders
    ]
    if args.profile:
        runs.append(RunSpec(args.tenants[0], 1, "none", profile=True, history=args.history))
    return runs


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("outbound", "json", args.log_level)
    mails = corpus(ROOT / "bench" / "out", args.messages, args.seed)
    database = IsolatedDatabase()
    database_url = await database.create()
    engine = make_engine(database_url, pool_size=2)
    try:
        with tempfile.TemporaryDirectory(prefix="postdesk-bench-outbound-") as scratch:
            settings = OutboundSettings(blob_dir=Path(scratch) / "blobs")
            blobs = make_blob_store(settings)
            began = time.perf_counter()
            replies = await replies_to(mails, blobs)
            certificate = make_certificate(Path(scratch) / "tls") if args.tls else None
            bundle = ca_bundle(Path(scratch), certificate) if certificate else None
            bench = Bench(
                database_url=database_url,
                engine=engine,
                sessions=make_sessions(engine),
                keyring=settings.keyring(),
                blob_dir=str(settings.blob_dir),
                replies=replies,
                thread_rank={
                    thread: rank
                    for rank, thread in enumerate(dict.fromkeys(r.thread for r in replies))
                },
                certificate=certificate,
                ca_bundle=str(bundle) if bundle else None,
                args=args,
            )
            result: dict[str, Any] = {
                "corpus": corpus_figures(replies),
                "parse_and_store_s": round(time.perf_counter() - began, 1),
                "batch": args.batch,
                "pool_size_per_sender": args.pool_size,
                "warm_up_per_sender": min(args.warm_up, len(replies)),
            }
            if bundle is not None:
                result["tls_context_build_ms_with_system_store"] = context_build_ms(bundle)
            result["runs"] = [await run(bench, spec) for spec in specs(args)]
            result["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
            result["cpu_count"] = psutil.cpu_count()
    finally:
        await engine.dispose()
        await database.drop()
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = OutboundSettings()
    parser.add_argument("--messages", type=int, default=2000, help="messages per run")
    parser.add_argument(
        "--seed", type=int, default=None, help="corpus seed (default: the generator's)"
    )
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 20])
    parser.add_argument(
        "--senders", type=int, nargs="+", default=[1, 3], help="sender processes (replicas)"
    )
    parser.add_argument("--tls", action="store_true", help="also run every case with STARTTLS")
    parser.add_argument("--batch", type=int, default=defaults.send_batch)
    parser.add_argument("--pool-size", type=int, default=defaults.db_pool_size)
    parser.add_argument(
        "--warm-up", type=int, default=100, help="messages each sender sends untimed first"
    )
    parser.add_argument(
        "--history", type=int, default=0, help="earlier sent messages per tenant (2+ days old)"
    )
    parser.add_argument("--profile", action="store_true", help="add a run under cProfile")
    parser.add_argument(
        "--log-level", default="WARNING", help="sender log level (production runs at INFO)"
    )
    parser.add_argument(
        "--top-statements", type=int, default=8, help="statements listed, by time spent"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    profiles = [run.pop("profile") for run in result["runs"]]
    print(json.dumps(result, indent=2))
    for profile in profiles:
        if profile is not None:
            print(profile)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
