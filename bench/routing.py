"""Router: routing decisions per second, in this process, on the real PostgreSQL.

Generates the seeded corpus (gen_corpus.py, `--count` messages, all sent to
support@acme-helpdesk.example), parses every message once up front with the
real parser and stores its body and attachments as the parser service does
(encrypted blob store), so the timed part is routing alone. Then, in a fresh
migrated database, each run seeds a tenant of its own: a department with the
round_robin strategy and three members on the account (a primary and two
backups), an SLA policy (first response 60 min, resolution 480 min,
business hours Mon-Fri 09-17 Europe/Berlin) and auto-reply on (schedule
"always"), so every decision takes the whole path: account lookup, dedupe,
threading, ticket number, assignment under the department lock, SLA clocks,
the auto-reply stops and caps, the outbox. The run's mails are the corpus
addressed to the run's account (the mailbox's address in To/Cc and the
envelope recipient replaced), under fresh event ids.

First, untimed, `--warm-up` mails are routed for a tenant of their own
(pooled connections with their prepared statements, SQLAlchemy's caches,
tables with rows). Then the timed runs, each after an ANALYZE (as
autovacuum keeps statistics in a running database; a table first seen
empty keeps a plan for an empty table): all mails one after another in one
task, then the same mails (fresh tenant) pulled in corpus order by
`--concurrency` tasks, then the same again with the threads spread over
`--concurrency` fresh tenants (no tenant or department row shared: what is
left is this process's CPU); each mail one `route_in_transaction` (its own
transaction, retried on a lost race). For each run it prints decisions/s, p50/p95/p99
per decision, new tickets, joined threads, rejected and duplicate
decisions, SQL statements and commits per decision, the time spent waiting
in statement execution (a share of the run only for the sequential run),
how long the tenant row (ticket number) and the department row (round
robin) stay locked until commit, the costliest statements, and this
process's CPU time and RSS. `--profile` adds a sequential run under cProfile (fresh
tenant, not timed) and prints the top functions by cumulative and own
time, and own time per package.

    uv run python bench/routing.py [--count 2000] [--concurrency 4] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import pstats
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from postdesk_contracts import Address, Envelope, EventType, MailParsed, new_envelope
from postdesk_contracts.events import Channel, MailReceived
from postdesk_parser.domain import parse_mail
from postdesk_parser.service import mail_parsed_of  # the parser's own MailParsed and blob writes
from postdesk_router.service import RouteOutcome, RouteStatus, route_in_transaction
from postdesk_router.settings import RouterSettings
from postdesk_runtime import (
    BlobStore,
    Sessions,
    ThreadTokens,
    configure_logging,
    make_blob_store,
    make_engine,
    make_sessions,
)
from postdesk_schema import (
    AssignmentRole,
    Department,
    EmailAccount,
    EmailAssignment,
    SlaPolicy,
    TakeTicketNumber,
    Tenant,
    User,
    take_ticket_number,
)
from postdesk_testing.infra import IsolatedDatabase
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import MAILBOX, ROOT, corpus, percentile  # bench/ is not a package

# Monday 08:00 UTC; one mail every 30 s spans office hours and the evening after them.
FIRST_RECEIVED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
RECEIVED_EVERY = timedelta(seconds=30)
OFFICE_HOURS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
# Row locks held until commit that serialise a tenant's (a department's) new tickets, known by
# how the statement that takes them starts and ends; each is timed from there to the commit.
ROW_LOCKS = {
    "tenant row (ticket number)": ("UPDATE tenants SET next_ticket_number", ""),
    "department row (round robin)": (
        "SELECT departments.routing_strategy, departments.round_robin_last_user_id",
        "KEY UPDATE",
    ),
}


async def parse_corpus(mails: list[bytes], blobs: BlobStore) -> list[MailParsed]:
    """Each raw mail stored and parsed once, as ingest and the parser service would."""
    parsed: list[MailParsed] = []
    for index, raw in enumerate(mails):
        received = MailReceived(
            raw_blob_ref=await blobs.put(raw),
            sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            channel=Channel.WEBHOOK,
            envelope_recipients=[MAILBOX],
            received_at=FIRST_RECEIVED + index * RECEIVED_EVERY,
            source="bench",
        )
        parsed.append(await mail_parsed_of(received, parse_mail(raw), blobs))
    return parsed


def readdressed(mail: MailParsed, address: str) -> MailParsed:
    """`mail` as sent to `address` instead of the corpus's mailbox."""

    def swap(addresses: list[Address]) -> list[Address]:
        return [
            a.model_copy(update={"email": address}) if a.email.lower() == MAILBOX else a
            for a in addresses
        ]

    return mail.model_copy(
        update={
            "to": swap(mail.to),
            "cc": swap(mail.cc),
            "delivered_to": [address if a.lower() == MAILBOX else a for a in mail.delivered_to],
            "envelope_recipients": [address],
        }
    )


@dataclass(frozen=True)
class BenchTenant:
    tenant_id: uuid.UUID
    address: str


async def seed_tenant(sessions: Sessions, name: str, strategy: str = "round_robin") -> BenchTenant:
    """A tenant with a round-robin department, its account (auto-reply on), three members
    (primary and two backups) and a business-hours SLA policy."""
    suffix = f"{name}-{uuid.uuid4().hex[:6]}"
    tenant = Tenant(name=f"Bench {suffix}", slug=f"bench-{suffix}")
    department = Department(tenant_id=tenant.id, name="Support", routing_strategy=strategy)
    account = EmailAccount(
        tenant_id=tenant.id,
        address=f"support-{suffix}@acme-helpdesk.example",
        display_name="ACME Support",
        department_id=department.id,
        auto_reply_enabled=True,
        auto_reply_message="Thank you, we received your message and will answer soon.",
        auto_reply_schedule="always",
    )
    users = [
        User(
            tenant_id=tenant.id,
            email=f"{who}-{suffix}@acme-helpdesk.example",
            password_hash="!",  # noqa: S106  # not a hash: bench users never log in
            full_name=who.title(),
            department_id=department.id,
        )
        for who in ("alice", "bob", "carol")
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
    policy = SlaPolicy(
        tenant_id=tenant.id,
        name="Business hours",
        first_response_minutes=60,
        resolution_minutes=480,
        business_hours=True,
        timezone="Europe/Berlin",
        working_hours=OFFICE_HOURS,
    )
    async with sessions() as session, session.begin():
        for row in (tenant, department, account, *users, *assignments, policy):
            session.add(row)
            await session.flush()  # no relationships declared: insert in dependency order
    return BenchTenant(tenant.id, account.address)


@dataclass
class StatementCounter:
    """SQL statements, commits and rollbacks on an engine, and the time spent in execution
    (for asyncpg: the round trip included), by statement text."""

    statements: int = 0
    commits: int = 0
    rollbacks: int = 0
    seconds: float = 0.0
    by_text: dict[str, list[float]] = field(default_factory=dict)
    lock_holds: dict[str, list[float]] = field(default_factory=dict)

    def attach(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)
        event.listen(sync, "commit", self._commit)
        event.listen(sync, "rollback", self._rollback)

    def reset(self) -> None:
        self.statements = self.commits = self.rollbacks = 0
        self.seconds = 0.0
        self.by_text = {}
        self.lock_holds = {}

    def _before(self, conn: Connection, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(
        self, conn: Connection, cursor: Any, statement: str, *args: Any, **kwargs: Any
    ) -> None:
        now = time.perf_counter()
        took = now - conn.info.pop("bench_started")
        self.statements += 1
        self.seconds += took
        sql = " ".join(statement.split())
        entry = self.by_text.setdefault(sql[:110], [0, 0.0])
        entry[0] += 1
        entry[1] += took
        held = conn.info.setdefault("bench_locks", {})
        for name, (prefix, suffix) in ROW_LOCKS.items():
            if sql.startswith(prefix) and sql.endswith(suffix):
                held.setdefault(name, now)

    def _end(self, conn: Connection) -> None:
        now = time.perf_counter()
        for name, since in conn.info.pop("bench_locks", {}).items():
            self.lock_holds.setdefault(name, []).append(now - since)

    def _commit(self, conn: Connection) -> None:
        self.commits += 1
        self._end(conn)

    def _rollback(self, conn: Connection) -> None:
        self.rollbacks += 1
        self._end(conn)

    def costliest(self, decisions: int, top: int) -> list[dict[str, Any]]:
        ranked = sorted(self.by_text.items(), key=lambda item: item[1][1], reverse=True)
        return [
            {
                "per_decision": round(count / decisions, 2),
                "ms_per_decision": round(seconds * 1000 / decisions, 3),
                "sql": sql,
            }
            for sql, (count, seconds) in ranked[:top]
        ]


class ProcessUse:
    """This process's peak resident memory (sampled every 50 ms) and CPU seconds (user and
    system) while entered."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.start = self.peak = self._process.memory_info().rss
        self.cpu_seconds = 0.0
        self._cpu_start = self._cpu()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def _cpu(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def __enter__(self) -> ProcessUse:
        self._cpu_start = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        self.cpu_seconds = self._cpu() - self._cpu_start


def thread_roots(templates: list[MailParsed]) -> list[int]:
    """For each mail, the index of its thread's first mail (the corpus sends parents first)."""
    index_of: dict[str, int] = {}
    roots: list[int] = []
    for index, mail in enumerate(templates):
        parent = next((index_of[m] for m in mail.in_reply_to if m in index_of), None)
        roots.append(index if parent is None else roots[parent])
        index_of[mail.message_id] = index
    return roots


def fresh_events(templates: list[MailParsed], addresses: list[str]) -> list[Envelope[MailParsed]]:
    """The mails under fresh event ids, each thread sent to one of `addresses` (in turn)."""
    roots = thread_roots(templates)
    return [
        new_envelope(EventType.MAIL_PARSED, readdressed(mail, addresses[roots[i] % len(addresses)]))
        for i, mail in enumerate(templates)
    ]


async def route_all(
    route: Callable[[Envelope[MailParsed]], Awaitable[RouteOutcome]],
    events: list[Envelope[MailParsed]],
    concurrency: int,
) -> tuple[list[RouteOutcome], list[float]]:
    """Route `events` in order with `concurrency` tasks, each taking the next one when free."""
    outcomes: list[RouteOutcome] = []
    latencies: list[float] = []
    pending = iter(events)

    async def worker() -> None:
        for routed in pending:
            began = time.perf_counter()
            outcomes.append(await route(routed))
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes, latencies


async def tenant_figures(sessions: Sessions, tenant_ids: list[uuid.UUID]) -> dict[str, Any]:
    """What the run left in its tenants' rows."""
    async with sessions() as session:
        params = {"tenants": tenant_ids}
        tickets = (
            await session.execute(
                text(
                    "SELECT count(*) AS tickets, count(merged_into_id) AS merged, "
                    "count(linked_ticket_id) AS linked FROM tickets WHERE tenant_id = ANY(:tenants)"
                ),
                params,
            )
        ).one()
        assignees = (
            await session.execute(
                text(
                    "SELECT count(*) FROM tickets WHERE tenant_id = ANY(:tenants) "
                    "GROUP BY assignee_id ORDER BY 1 DESC"
                ),
                params,
            )
        ).scalars()
        auto_replies = {
            row.rule: row.n
            for row in await session.execute(
                text(
                    "SELECT rule, count(*) AS n FROM ticket_history "
                    "WHERE tenant_id = ANY(:tenants) AND kind = 'auto_reply' GROUP BY rule"
                ),
                params,
            )
        }
        timers = (
            await session.execute(
                text("SELECT count(*) FROM sla_timers WHERE tenant_id = ANY(:tenants)"), params
            )
        ).scalar_one()
    return {
        "tickets_created": tickets.tickets,
        "tickets_merged_away": tickets.merged,
        "tickets_linked": tickets.linked,
        "tickets_per_assignee": list(assignees),
        "auto_replies": auto_replies,
        "sla_timers": timers,
    }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass(frozen=True)
class Bench:
    """What every run routes with: one engine's sessions, the blob store, the corpus."""

    engine: AsyncEngine
    sessions: Sessions
    blobs: BlobStore
    tokens: ThreadTokens
    templates: list[MailParsed]
    counter: StatementCounter
    take_number: TakeTicketNumber = take_ticket_number

    async def route(self, routed: Envelope[MailParsed]) -> RouteOutcome:
        return await route_in_transaction(
            self.sessions, self.blobs, routed, tokens=self.tokens, take_number=self.take_number
        )


async def analyze(engine: AsyncEngine) -> None:
    """Fresh statistics, as autovacuum keeps them in a database that has been running."""
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("ANALYZE"))


async def warm_up(bench: Bench, count: int) -> None:
    """Route the first `count` mails for a tenant of their own, untimed: pooled connections
    with their prepared statements, SQLAlchemy's statement cache, tables with rows."""
    seeded = await seed_tenant(bench.sessions, "warmup")
    for routed in fresh_events(bench.templates[:count], [seeded.address]):
        await bench.route(routed)


async def timed_run(
    bench: Bench, name: str, concurrency: int, top_statements: int, tenants: int = 1
) -> dict[str, Any]:
    """The corpus routed by `concurrency` tasks for `tenants` fresh tenants (each thread
    to one of them), on fresh statistics."""
    seeded = [await seed_tenant(bench.sessions, f"{name}-{i}") for i in range(tenants)]
    events = fresh_events(bench.templates, [t.address for t in seeded])
    await analyze(bench.engine)
    counter = bench.counter
    counter.reset()
    with ProcessUse() as use:
        began = time.perf_counter()
        outcomes, latencies = await route_all(bench.route, events, concurrency)
        wall = time.perf_counter() - began
    decisions = len(outcomes)
    statements, commits, rollbacks, waited = (
        counter.statements,
        counter.commits,
        counter.rollbacks,
        counter.seconds,
    )
    costliest = counter.costliest(decisions, top_statements)
    holds = {
        name: {
            "taken": len(each),
            "held_ms_p50": ms(percentile(each, 50)),
            "held_ms_p95": ms(percentile(each, 95)),
            "held_share_of_run_per_row": round(sum(each) / wall / tenants, 3),
        }
        for name, each in counter.lock_holds.items()
    }
    statuses = {status.value: 0 for status in RouteStatus}
    for outcome in outcomes:
        statuses[outcome.status.value] += 1
    left = await tenant_figures(bench.sessions, [t.tenant_id for t in seeded])
    return {
        "run": name,
        "concurrency": concurrency,
        "tenants": tenants,
        "decisions": decisions,
        "seconds": round(wall, 2),
        "decisions_per_s": round(decisions / wall, 1),
        "latency_ms": {
            "p50": ms(percentile(latencies, 50)),
            "p95": ms(percentile(latencies, 95)),
            "p99": ms(percentile(latencies, 99)),
            "max": ms(max(latencies)),
        },
        "outcomes": statuses,
        "new_tickets": left["tickets_created"],
        "joined_threads": statuses[RouteStatus.ROUTED.value] - left["tickets_created"],
        "events_emitted": sum(o.emitted for o in outcomes),
        "tenant": left,
        "sql_statements_per_decision": round(statements / decisions, 2),
        "commits": commits,
        "rollbacks": rollbacks,
        # waiting for one's own statements; with several tasks the waits overlap
        "statement_wait_share": round(waited / wall, 3) if concurrency == 1 else None,
        "statement_wait_ms_per_decision": round(waited * 1000 / decisions, 3),
        "row_locks_until_commit": holds,
        "costliest_statements": costliest,
        # the rest of the wall time this process waited: PostgreSQL, the blob reads' threads
        "process_cpu_ms_per_decision": ms(use.cpu_seconds / decisions),
        "process_cpu_share_of_wall": round(use.cpu_seconds / wall, 3),
        "rss_mib": {"start": round(use.start / 2**20, 1), "peak": round(use.peak / 2**20, 1)},
    }


def owner(filename: str, function: str) -> str:
    """Who a profiled function's own time belongs to: a package, the stdlib module, or
    waiting in epoll (the event loop idle: PostgreSQL working, or a blob read's thread)."""
    if "select.epoll" in function:
        return "waiting in epoll"
    if filename == "~":
        return "builtins and C methods"
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1].split("/", 1)[0]
    parts = Path(filename).parts
    for part in parts:
        if part.startswith("postdesk_"):
            return part
    if "bench" in parts:
        return "bench"
    return "stdlib " + Path(filename).stem


def own_time_by_owner(stats: pstats.Stats) -> list[tuple[str, float]]:
    # pstats keeps its table in an attribute the stubs do not declare
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for (filename, _, function), (_, _, own, *_) in table.items():
        key = owner(filename, function)
        totals[key] = totals.get(key, 0.0) + own
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)


@contextmanager
def profiled(limit: int, decisions: int) -> Iterator[io.StringIO]:
    """cProfile over the block; the report lists the top `limit` functions by cumulative and
    by own time, and own time per package. Coroutines count a call per resumption, and a
    coroutine's cumulative time leaves out its awaits' waits."""
    profile = cProfile.Profile()
    report = io.StringIO()
    profile.enable()
    try:
        yield report
    finally:
        profile.disable()
        profile.dump_stats(ROOT / "bench" / "out" / "routing-profile.pstats")
        for key in ("cumulative", "tottime"):
            pstats.Stats(profile, stream=report).sort_stats(key).print_stats(limit)
        stats = pstats.Stats(profile)
        total: float = stats.total_tt  # type: ignore[attr-defined]
        report.write(f"own time by package ({total:.2f} s under the profiler):\n")
        for name, seconds in own_time_by_owner(stats):
            if seconds >= total / 200:
                report.write(
                    f"  {name:<40} {seconds:7.2f} s {seconds / total:6.1%}"
                    f" {seconds * 1000 / decisions:7.2f} ms/decision\n"
                )


async def profile_run(bench: Bench) -> str:
    """The corpus routed one after another for a fresh tenant, under cProfile."""
    seeded = await seed_tenant(bench.sessions, "profile")
    events = fresh_events(bench.templates, [seeded.address])
    await analyze(bench.engine)
    with profiled(25, len(events)) as report:
        for routed in events:
            await bench.route(routed)
    return report.getvalue()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("router", "json", args.log_level)
    mails = corpus(ROOT / "bench" / "out", args.count, args.seed)
    database = IsolatedDatabase()
    database_url = await database.create()
    engine = make_engine(database_url, pool_size=args.concurrency + 1)
    counter = StatementCounter()
    counter.attach(engine)
    sessions = make_sessions(engine)
    try:
        with tempfile.TemporaryDirectory(prefix="postdesk-bench-routing-") as blob_dir:
            settings = RouterSettings(blob_dir=Path(blob_dir))
            blobs = make_blob_store(settings)
            tokens = ThreadTokens.from_keyring(settings.keyring())
            began = time.perf_counter()
            templates = await parse_corpus(mails, blobs)
            result: dict[str, Any] = {
                "messages": len(templates),
                "replies_in_corpus": sum(1 for m in templates if m.in_reply_to),
                "parse_and_store_s": round(time.perf_counter() - began, 1),
                "warm_up_mails": min(args.warm_up, len(templates)),
            }
            bench = Bench(engine, sessions, blobs, tokens, templates, counter)
            await warm_up(bench, args.warm_up)
            result["runs"] = [
                await timed_run(bench, "sequential", 1, args.top_statements),
                await timed_run(
                    bench, f"concurrent-{args.concurrency}", args.concurrency, args.top_statements
                ),
                # the same load spread over as many tenants: no tenant or department row
                # shared between the tasks, so what remains is this process's CPU
                await timed_run(
                    bench,
                    f"concurrent-{args.concurrency}-tenants",
                    args.concurrency,
                    args.top_statements,
                    tenants=args.concurrency,
                ),
            ]
            result["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
            result["cpu_count"] = psutil.cpu_count()
            if args.profile:
                result["profile"] = await profile_run(bench)
    finally:
        await engine.dispose()
        await database.drop()
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument(
        "--seed", type=int, default=None, help="corpus seed (default: the generator's)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--warm-up", type=int, default=500, help="mails routed untimed first (another tenant)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile a sequential run (cProfile)"
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="router log level (production runs at INFO)"
    )
    parser.add_argument(
        "--top-statements", type=int, default=12, help="statements listed, by time spent"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    profile = result.pop("profile", None)
    print(json.dumps(result, indent=2))
    if profile is not None:
        print(profile)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
