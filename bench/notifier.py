"""Notifier: notifications per second with 10,000 users, and the daily-digest scan.

Creates a database of its own (`postdesk_bench_notifier` on the server of
`--database-url`, dropped first if it exists) and a RabbitMQ virtual host,
migrates the database, and seeds one tenant (INSERT ... SELECT
generate_series): `--accounts` shared mailboxes, `--users` users spread
evenly over 24 timezones an hour apart (Etc/GMT+11 .. Etc/GMT-12, no daylight
saving) with no working hours (always available, so who is told does not
depend on the clock), each assigned to one mailbox (its first user primary,
the others backups), and `--tickets` open tickets spread over the mailboxes,
each assigned to a user of its mailbox, with one customer message.

Part 1, the service: runs the real notifier (`postdesk-notifier`, its own
process, default settings) and publishes `--events` events to the events
exchange, as fast as the broker confirms them (`--publishers` in flight) or
at `--rate` per second, in turn: ticket.assigned (ticket k to a rotating user of its mailbox, by a
rule), ticket.message_added (a customer reply on ticket k: its assignee is
told) and ticket.note_added (the ticket's assignee mentions two colleagues of
the mailbox). Each event goes to a different ticket in turn, so little folds
into an earlier notification. It waits until the notifier has claimed every
event (processed_events), then prints events/s and notifications/s (from the
first publish to the last event claimed or row created), p50/p99 latency
from each event's publish to its notification row's created_at and to its
claim (both stamped inside the consuming transaction, before its commit),
and the notifier's RSS (start and peak, sampled every 100 ms) and CPU
seconds.

Part 2, the digest scan (in this process, the service stopped): every user
opts in to the digest and gets one of three schedules (none: 17:00; weekdays
09:00-17:00; weekdays 08:00-12:00 and 13:00-16:30); two and a half minutes
after 17:00 on a Wednesday in one of the 24 zones, with a one-hour catch-up,
that zone's users (1/24) are due. It times
finding them (the distinct schedules with their day ends, then the query for
the users of the schedules whose day ended), then one drain (scans of `--batch` until none is
left, checking each due user got exactly one digest and one
outbound.requested), then `--empty-scans` scans a minute later that find
nobody due (every user has to be looked at again: what each replica pays
every minute).

    uv run python bench/notifier.py [--users 10000] [--events 3000] [--rate 0] [--only service|digest] [--small] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from postdesk_cli.supervisor import Supervisor
from postdesk_contracts import (
    Envelope,
    EventType,
    TicketAssigned,
    TicketMessageAdded,
    TicketNoteAdded,
    new_envelope,
)
from postdesk_notifier import digest_db
from postdesk_notifier.digest import ended_days
from postdesk_notifier.digest_scan import send_due_digests
from postdesk_runtime import EventPublisher, configure_logging, declare_topology, make_broker
from postdesk_runtime.db import Sessions, make_engine, make_sessions
from postdesk_schema.migrate import migrate
from postdesk_testing.infra import IsolatedAmqp
from process_sampler import Sampler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "postdesk_bench_notifier"
ZONES = [f"Etc/GMT{offset:+d}" if offset else "UTC" for offset in range(-12, 12)]
# 17:00 in Etc/GMT-3 (UTC+3) is 14:00 UTC; the scan runs a few minutes after it.
DIGEST_NOW = datetime(2026, 11, 25, 14, 2, 30, tzinfo=UTC)
DIGEST_CATCH_UP = timedelta(hours=1)
# the digest part's users' hours, a third each: none (17:00), 09-17 and 08-12 + 13-16:30 weekdays
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
DIGEST_SCHEDULES = [
    json.dumps(hours)
    for hours in (
        {},
        {day: [["09:00", "17:00"]] for day in WEEKDAYS},
        {day: [["08:00", "12:00"], ["13:00", "16:30"]] for day in WEEKDAYS},
    )
]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def recreate_database(
    admin_url: str, *, drop_only: bool = False, name: str = DATABASE
) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(admin_url, name)
    if not drop_only:
        await asyncio.to_thread(migrate, url)
    return url


class Shape:
    """Who is where: the same arithmetic seeds the database and builds the events.

    User u (0-based) is in mailbox u % accounts, its index there u // accounts (0: the
    primary); ticket t is in mailbox t % accounts, assigned to that mailbox's user
    (t // accounts) % per_account."""

    def __init__(self, users: int, accounts: int, tickets: int) -> None:
        self.users, self.accounts, self.tickets = users, accounts, tickets
        self.per_account = users // accounts

    def user_of(self, account: int, index: int) -> int:
        return account + self.accounts * (index % self.per_account)

    def assignee(self, ticket: int) -> int:
        return self.user_of(ticket % self.accounts, ticket // self.accounts)


_SEED = [
    """
    INSERT INTO tenants (id, name, slug, next_ticket_number, settings, created_at)
    VALUES (:tenant, 'Bench', 'bench', :tickets + 1, '{}', now() - interval '30 days')
    """,
    """
    INSERT INTO email_accounts (id, tenant_id, address, display_name, kind, signature,
        auto_reply_enabled, auto_reply_message, auto_reply_subject, auto_reply_schedule,
        auto_reply_window_minutes, timezone, working_hours, reopen_policy, is_active, created_at)
    SELECT (CAST(:ids AS uuid[]))[1 + a], :tenant, 'support-' || a || '@bench-notifier.example', 'Support ' || a,
        'shared', '', false, '', '', 'always', 1440, 'UTC', '{}', 'reopen', true,
        now() - interval '30 days' + a * interval '1 second'
    FROM generate_series(0, :accounts - 1) AS a
    """,
    """
    INSERT INTO users (id, tenant_id, email, password_hash, full_name, role, email_signature,
        job_title, timezone, notification_preferences, working_hours, is_active, created_at)
    SELECT (CAST(:ids AS uuid[]))[1 + :accounts + u], :tenant, 'agent-' || u || '@staff.bench.example', '!',
        'Agent ' || u, 'member', '', '', (CAST(:zones AS text[]))[1 + u % 24], '{}', '{}', true, now()
    FROM generate_series(0, :users - 1) AS u
    """,
    """
    INSERT INTO email_assignments (id, tenant_id, account_id, user_id, role, can_send, can_receive,
        can_delete, can_assign_others, notify_on_receive, notify_on_reply, notify_on_mention,
        priority, is_active, notes, created_at)
    SELECT gen_random_uuid(), :tenant, (CAST(:ids AS uuid[]))[1 + u % :accounts], (CAST(:ids AS uuid[]))[1 + :accounts + u],
        CASE WHEN u < :accounts THEN 'primary' ELSE 'backup' END, true, true, false, false,
        true, true, true, u / :accounts, true, '', now()
    FROM generate_series(0, :users - 1) AS u
    """,
    """
    INSERT INTO tickets (id, tenant_id, number, account_id, subject, customer_email,
        customer_name, status, priority, assignee_id, assignment_rule, message_count,
        reopened_count, tags, last_customer_message_at, created_at, updated_at, last_message_at)
    SELECT (CAST(:ticket_ids AS uuid[]))[1 + t], :tenant, t + 1, (CAST(:ids AS uuid[]))[1 + t % :accounts],
        'Question number ' || t, 'customer' || t || '@customer.example', '', 'open', 'normal',
        (CAST(:ids AS uuid[]))[1 + :accounts + (t % :accounts) + :accounts * ((t / :accounts) % :per_account)],
        'primary', 1, 0, '{}', c, c, c, c
    FROM generate_series(0, :tickets - 1) AS t,
        LATERAL (SELECT CAST(:newest AS timestamptz) - (t % 4320) * interval '1 minute') AS x(c)
    """,
    """
    INSERT INTO messages (id, tenant_id, ticket_id, account_id, direction, message_id_header,
        in_reply_to, "references", subject, from_email, from_name, "to", cc, text_body,
        text_preview, raw_blob_ref, sha256, classification, match_rule, delivery_status,
        delivery_failure, received_at, created_at)
    SELECT gen_random_uuid(), k.tenant_id, k.id, k.account_id, 'inbound',
        'm' || k.number || '@customer.example', '{}', '{}', k.subject, k.customer_email, '',
        '[]', '[]', 'Hello', 'Hello', '', '', '{}', 'new', '', '', k.created_at, k.created_at
    FROM tickets k
    """,
]


async def analyze(engine: AsyncEngine) -> None:
    """VACUUM ANALYZE, which cannot run in a transaction."""
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("VACUUM ANALYZE"))


async def seed(engine: AsyncEngine, sessions: Sessions, shape: Shape) -> dict[str, Any]:
    tenant_id = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(shape.accounts + shape.users)]
    ticket_ids = [uuid.uuid4() for _ in range(shape.tickets)]
    params = {
        "tenant": tenant_id,
        "ids": ids,
        "ticket_ids": ticket_ids,
        "zones": ZONES,
        "accounts": shape.accounts,
        "users": shape.users,
        "tickets": shape.tickets,
        "per_account": shape.per_account,
        "newest": DIGEST_NOW - timedelta(minutes=5),
    }
    began = time.perf_counter()
    async with sessions() as session, session.begin():
        for statement in _SEED:
            await session.execute(text(statement), params)
    seconds = time.perf_counter() - began
    await analyze(engine)
    return {
        "tenant_id": tenant_id,
        "account_ids": ids[: shape.accounts],
        "user_ids": ids[shape.accounts :],
        "ticket_ids": ticket_ids,
        "seed_s": round(seconds, 1),
    }


def build_events(shape: Shape, seeded: dict[str, Any], count: int) -> list[Envelope[Any]]:
    """`count` events in turn: assigned, message_added, note_added, each on the next ticket."""
    tenant = seeded["tenant_id"]
    accounts, users, tickets = seeded["account_ids"], seeded["user_ids"], seeded["ticket_ids"]
    events: list[Envelope[Any]] = []
    for k in range(count):
        t = k % shape.tickets
        account = t % shape.accounts
        assignee = shape.assignee(t)
        index = t // shape.accounts
        common = {"ticket_id": tickets[t], "account_id": accounts[account]}
        if k % 3 == 0:
            other = users[shape.user_of(account, index + 1 + k // shape.tickets)]
            payload: Any = TicketAssigned(assignee_id=other, rule="round_robin", **common)
            event_type = EventType.TICKET_ASSIGNED
        elif k % 3 == 1:
            payload = TicketMessageAdded(
                message_id=uuid.uuid4(),
                direction="inbound",
                match_rule="in-reply-to",
                sender_email=f"customer{t}@customer.example",
                **common,
            )
            event_type = EventType.TICKET_MESSAGE_ADDED
        else:
            mentioned = [users[shape.user_of(account, index + step)] for step in (1, 2)]
            payload = TicketNoteAdded(
                note_id=uuid.uuid4(),
                author_id=users[assignee],
                mentioned_user_ids=mentioned,
                excerpt="@colleagues please have a look",
                **common,
            )
            event_type = EventType.TICKET_NOTE_ADDED
        events.append(new_envelope(event_type, payload, tenant_id=tenant))
    return events


async def publish_all(
    amqp_url: str, events: list[Envelope[Any]], in_flight: int, rate: float
) -> dict[uuid.UUID, float]:
    """Publish every event (confirmed), at `rate` per second (0: as fast as confirmed); each
    one's wall-clock time just before publishing."""
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    publisher = EventPublisher(broker)
    sent: dict[uuid.UUID, float] = {}
    limit = asyncio.Semaphore(in_flight)

    start = time.perf_counter()

    async def one(index: int, event: Envelope[Any]) -> None:
        if rate > 0:
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        async with limit:
            sent[event.id] = time.time()
            await publisher.publish(event)

    try:
        await asyncio.gather(*(one(i, event) for i, event in enumerate(events)))
    finally:
        await broker.stop()
    return sent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def latency_ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50) * 1000, 1),
        "p99": round(percentile(values, 99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


async def scalar(sessions: Sessions, sql: str, **params: Any) -> Any:
    async with sessions() as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def run_service(
    args: argparse.Namespace, database_url: str, sessions: Sessions, events: list[Envelope[Any]]
) -> dict[str, Any]:
    vhost = IsolatedAmqp()
    amqp_url = vhost.create()
    log = io.StringIO()
    supervisor = Supervisor(
        env={"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LOG_LEVEL": "WARNING"},
        ports={"notifier": args.port},
        sink=log,
    )
    try:
        supervisor.start("notifier")
        await asyncio.to_thread(supervisor.wait_ready, 60)
        with Sampler(supervisor.processes["notifier"].process.pid) as use:
            published = await publish_all(amqp_url, events, args.publishers, args.rate)
            publish_done = time.time()
            deadline = time.monotonic() + args.timeout
            claimed = 0
            while claimed < len(events) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                claimed = await scalar(
                    sessions, "SELECT count(*) FROM processed_events WHERE consumer = 'notifier'"
                )
    finally:
        await asyncio.to_thread(supervisor.stop_all)
        vhost.drop()
    if claimed < len(events):
        print(log.getvalue()[-5000:], file=sys.stderr)
    async with sessions() as session:
        rows = (
            await session.execute(
                text("SELECT source_event_id, kind, event_count, created_at FROM notifications")
            )
        ).all()
        claims = (
            await session.execute(
                text(
                    "SELECT event_id, processed_at FROM processed_events WHERE consumer = 'notifier'"
                )
            )
        ).all()
    first = min(published.values())
    row_latency = [
        r.created_at.timestamp() - published[r.source_event_id]
        for r in rows
        if r.source_event_id in published
    ]
    claim_latency = [c.processed_at.timestamp() - published[c.event_id] for c in claims]
    last_claim = max((c.processed_at.timestamp() for c in claims), default=first)
    last_row = max((r.created_at.timestamp() for r in rows), default=first)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    return {
        "offered_rate": args.rate or "max",
        "events_published": len(events),
        "events_claimed": len(claims),
        "publish_s": round(publish_done - first, 2),
        "publish_per_s": round(len(events) / (publish_done - first), 1),
        "events_per_s": round(len(claims) / (last_claim - first), 1),
        "notification_rows": len(rows),
        "notification_rows_by_kind": kinds,
        "events_folded_into_rows": sum(r.event_count for r in rows) - len(rows),
        "notifications_per_s": round(len(rows) / (last_row - first), 1),
        "publish_to_row_ms": latency_ms(row_latency),
        "publish_to_claim_ms": latency_ms(claim_latency),
        "notifier_rss_mib": {
            "start": round(use.start / 2**20, 1),
            "peak": round(use.peak / 2**20, 1),
        },
        "notifier_cpu_s": round(use.cpu_seconds, 1),
    }


def _statement_kind(statement: str) -> str:
    """A short label for a SQL statement: its verb and first table or function."""
    words = statement.split()
    verb = words[0].upper() if words else "?"
    if verb == "INSERT" and len(words) > 2:
        return f"INSERT {words[2]}"
    if verb in ("UPDATE", "DELETE") and len(words) > 1:
        return f"{verb} {words[1]}"
    if verb == "SELECT":
        lowered = statement.lower()
        for name in ("pg_advisory_xact_lock", "pg_notify"):
            if name in lowered:
                return f"SELECT {name}"
        table = re.search(r"\bfrom\s+(\S+)", lowered)
        if table:
            return " ".join((verb, table.group(1)))
    return verb


async def run_profile(
    args: argparse.Namespace, engine: AsyncEngine, sessions: Sessions, events: list[Envelope[Any]]
) -> dict[str, Any]:
    """The consuming path in this process under cProfile: each event parsed from its JSON as
    the broker delivers it, then `service.consume` in its own transaction. Counts the SQL
    statements per event by kind; the profile goes to bench/out."""
    import cProfile
    import pstats

    from postdesk_contracts.events import PAYLOADS
    from postdesk_notifier.service import consume
    from sqlalchemy import event as sa_event

    bodies = [(e.type, e.model_dump_json(by_alias=True)) for e in events]
    # what the subscriber validates each message against (handlers._handler)
    models: dict[EventType, Any] = {
        t: Envelope.__class_getitem__(PAYLOADS[t]) for t in {t for t, _ in bodies}
    }
    window = timedelta(seconds=300)
    statements: dict[str, int] = {}

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        kind = _statement_kind(statement)
        statements[kind] = statements.get(kind, 0) + 1

    async def consume_all(batch: list[tuple[EventType, str]]) -> None:
        for event_type, body in batch:
            event = models[event_type].model_validate_json(body)
            async with sessions() as session, session.begin():
                await consume(session, event, window=window)

    warm = min(30, len(bodies) // 10)
    await consume_all(bodies[:warm])  # connections, statement caches
    sa_event.listen(engine.sync_engine, "before_cursor_execute", count)
    profiler = cProfile.Profile()
    cpu_began, began = time.process_time(), time.perf_counter()
    profiler.enable()
    await consume_all(bodies[warm:])
    profiler.disable()
    cpu_s, wall_s = time.process_time() - cpu_began, time.perf_counter() - began
    sa_event.remove(engine.sync_engine, "before_cursor_execute", count)
    measured = len(bodies) - warm
    out = ROOT / "bench" / "out" / f"notifier-profile-{int(time.time())}.txt"
    text_out = io.StringIO()
    stats = pstats.Stats(profiler, stream=text_out).sort_stats("cumulative")
    stats.print_stats(60)
    stats.sort_stats("tottime").print_stats(40)
    out.write_text(text_out.getvalue())
    return {
        "events": measured,
        "cpu_ms_per_event_profiled": round(cpu_s / measured * 1000, 2),
        "wall_ms_per_event_profiled": round(wall_s / measured * 1000, 2),
        "statements_per_event": round(sum(statements.values()) / measured, 2),
        "statements_by_kind": dict(sorted(statements.items(), key=lambda kv: -kv[1])),
        "profile": str(out),
    }


async def run_digest_scan(
    args: argparse.Namespace, engine: AsyncEngine, sessions: Sessions, shape: Shape
) -> dict[str, Any]:
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE users SET notification_preferences = CAST(:on AS jsonb), "
                "working_hours = (CAST(:shapes AS jsonb[]))[1 + abs(hashtext(id::text)) % 3]"
            ),
            {"on": json.dumps({"digest": {"email": True}}), "shapes": DIGEST_SCHEDULES},
        )
    await analyze(engine)  # as autovacuum would after rewriting every user
    due_zone = "Etc/GMT-3"
    expected = sum(1 for u in range(shape.users) if ZONES[u % 24] == due_zone)
    schedules_ms: list[float] = []
    query_ms: list[float] = []
    for _ in range(20):
        async with sessions() as session:
            began = time.perf_counter()
            schedules = await digest_db.opted_in_schedules(session)
            ended = sorted(
                (
                    day
                    for zone, hours in schedules
                    for day in ended_days(zone, hours, DIGEST_NOW, DIGEST_CATCH_UP)
                ),
                key=lambda day: day.end,
            )
            schedules_ms.append(time.perf_counter() - began)
            began = time.perf_counter()
            found = await digest_db.due_candidates(session, ended, args.batch)
            query_ms.append(time.perf_counter() - began)
    batches: list[float] = []
    began = time.perf_counter()
    total = 0
    while True:
        batch_began = time.perf_counter()
        done = await send_due_digests(sessions, DIGEST_NOW, args.batch, catch_up=DIGEST_CATCH_UP)
        batches.append(time.perf_counter() - batch_began)
        total += done
        if done < args.batch:
            break
    drain_s = time.perf_counter() - began
    # a minute later everyone due has a digest row: what each replica pays every minute
    empty: list[float] = []
    for _ in range(args.empty_scans):
        scan_began = time.perf_counter()
        done = await send_due_digests(
            sessions, DIGEST_NOW + timedelta(minutes=1), args.batch, catch_up=DIGEST_CATCH_UP
        )
        empty.append(time.perf_counter() - scan_began)
        assert done == 0, done
    digests = await scalar(sessions, "SELECT count(*) FROM notification_digests")
    sent = await scalar(
        sessions,
        "SELECT count(DISTINCT id) FROM outbox WHERE routing_key = 'outbound.requested'",
    )
    if not total == digests == sent == expected:
        raise SystemExit(f"expected {expected} digests once each: {total=} {digests=} {sent=}")
    return {
        "users_opted_in": shape.users,
        "due": expected,
        "batch": args.batch,
        "distinct_schedules": len(schedules),
        "schedules_with_an_ended_day": len(ended),
        "schedules_and_day_ends_ms": {
            "p50": round(statistics.median(schedules_ms) * 1000, 1),
            "max": round(max(schedules_ms) * 1000, 1),
        },
        "users_of_ended_schedules_query_ms": {
            "first_batch_found": len(found),
            "p50": round(statistics.median(query_ms) * 1000, 1),
            "max": round(max(query_ms) * 1000, 1),
        },
        "empty_scan_ms": {
            "rounds": len(empty),
            "p50": round(statistics.median(empty) * 1000, 1),
            "max": round(max(empty) * 1000, 1),
        },
        "drain": {
            "digests": total,
            "scans": len(batches),
            "seconds": round(drain_s, 2),
            "digests_per_s": round(total / drain_s, 1),
            "scan_ms": [round(b * 1000, 1) for b in batches],
        },
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    shape = Shape(args.users, args.accounts, args.tickets)
    name = DATABASE + "_profile" if args.profile else DATABASE
    database_url = await recreate_database(args.database_url, name=name)
    engine = make_engine(database_url, pool_size=4)
    sessions = make_sessions(engine)
    try:
        seeded = await seed(engine, sessions, shape)
        events = build_events(shape, seeded, args.events)
        result: dict[str, Any] = {
            "users": shape.users,
            "accounts": shape.accounts,
            "tickets": shape.tickets,
            "seed_s": seeded["seed_s"],
            "cpu_count": psutil.cpu_count(),
        }
        if args.profile:
            result["profile"] = await run_profile(args, engine, sessions, events)
        elif args.only in (None, "service"):
            result["service"] = await run_service(args, database_url, sessions, events)
        if args.only in (None, "digest") and not args.profile:
            result["digest_scan"] = await run_digest_scan(args, engine, sessions, shape)
        result["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
    finally:
        await engine.dispose()
        if not args.keep:
            await recreate_database(args.database_url, drop_only=True, name=name)
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument(
        "--rate", type=float, default=0, help="events offered per second; 0: as fast as confirmed"
    )
    parser.add_argument("--publishers", type=int, default=64, help="publishes in flight")
    parser.add_argument("--batch", type=int, default=200, help="digest scan batch")
    parser.add_argument("--empty-scans", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--port", type=int, default=28304)
    parser.add_argument(
        "--small", action="store_true", help="a smoke run: 480 users, 600 tickets, 300 events"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server and a database to connect to for creating " + DATABASE,
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--only", choices=("service", "digest"), help="run one part only")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of both parts: the events consumed in this process (service.consume) "
        "under cProfile, with SQL statements per event (database " + DATABASE + "_profile)",
    )
    args = parser.parse_args()
    configure_logging("bench", "console", "WARNING")
    if args.small:
        args.users, args.accounts, args.tickets, args.events = 480, 24, 600, 300
    result = asyncio.run(main(args))
    print(json.dumps(result, indent=2, default=str))
    out = ROOT / "bench" / "out" / f"notifier-{int(time.time())}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    service = result.get("service")
    if service and service["events_claimed"] < service["events_published"]:
        sys.exit("not every event was claimed before the timeout")


if __name__ == "__main__":
    cli()
