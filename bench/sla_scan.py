"""SLA scanner: how long scans take over a million open tickets.

Creates a database of its own (`postdesk_bench_sla` on the server of
`--database-url`, dropped first if it exists), migrates it, and seeds one
tenant with one calendar-time policy (first response 60 minutes, resolution
480, warning at 80%) and `--tickets` open tickets with both clocks running
(INSERT ... SELECT generate_series), so the partial indexes hold two timers
per ticket. A `--due` share of the tickets was created nine hours before the
scan's `now`: both of their targets are past warning and due, four events per
ticket; the others were created ten minutes before it and nothing of theirs
is due.

Then, for each count in `--scanners`, it drains every due timer with that
many concurrent `scan_sla` loops (batches of `--batch`, each its own
transaction, as the router's periodic job runs them) and times it; checks
that the outbox holds each event exactly once; then times `--empty-scans`
scans that find nothing due (what every replica pays every few seconds) and
prints the plans of both claims. Between scanner counts the due timers are
reset and the events deleted. Prints JSON and keeps it in `bench/out/`.

    uv run python bench/sla_scan.py [--tickets 1000000] [--due 0.01] [--scanners 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from postdesk_router.sla_scan import CLAIM_BREACHES, CLAIM_WARNINGS, scan_sla
from postdesk_runtime.db import Sessions, make_engine, make_sessions
from postdesk_schema import Department, EmailAccount, SlaPolicy, Tenant
from postdesk_schema.migrate import migrate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "postdesk_bench_sla"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EVENTS_PER_DUE_TICKET = 4  # warning and breach of both targets


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def create_database(admin_url: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    url = with_database(admin_url, DATABASE)
    await asyncio.to_thread(migrate, url)
    return url


async def drop_database(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await conn.close()


async def maintain(engine: AsyncEngine, *statements: str) -> None:
    """VACUUM and ANALYZE, which cannot run inside a transaction (autovacuum would, later)."""
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            await auto.execute(text(statement))


async def seed(
    engine: AsyncEngine, sessions: Sessions, tickets: int, due: float
) -> dict[str, float]:
    """One tenant, one policy, `tickets` open tickets with two running timers each."""
    tenant = Tenant(name="Bench", slug="bench")
    department = Department(tenant_id=tenant.id, name="Support")
    account = EmailAccount(
        tenant_id=tenant.id, address="support@bench.example", department_id=department.id
    )
    policy = SlaPolicy(
        tenant_id=tenant.id, name="default", first_response_minutes=60, resolution_minutes=480
    )
    async with sessions() as session, session.begin():
        for row in (tenant, department, account, policy):
            session.add(row)
            await session.flush()
    every = max(1, round(1 / due)) if due > 0 else tickets + 1
    params = {
        "tenant": tenant.id,
        "account": account.id,
        "department": department.id,
        "policy": policy.id,
        "n": tickets,
        "every": every,
        "due_created": NOW - timedelta(hours=9),
        "fresh_created": NOW - timedelta(minutes=10),
    }
    began = time.perf_counter()
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                """
                INSERT INTO tickets (id, tenant_id, number, account_id, department_id, subject,
                    customer_email, customer_name, status, priority, assignment_rule,
                    message_count, reopened_count, created_at, updated_at, last_message_at)
                SELECT gen_random_uuid(), :tenant, g, :account, :department, 'Ticket ' || g,
                    'customer' || g || '@customer.example', '', 'open', 'normal', '', 1, 0,
                    c, c, c
                FROM generate_series(1, :n) AS g,
                    LATERAL (SELECT CASE WHEN g % :every = 0 THEN CAST(:due_created AS timestamptz)
                                         ELSE CAST(:fresh_created AS timestamptz) END AS c) AS created
                """
            ),
            params,
        )
        ticket_seconds = time.perf_counter() - began
        await session.execute(
            text(
                """
                INSERT INTO sla_timers (id, tenant_id, ticket_id, policy_id, target, state,
                    started_at, due_at, warn_at, updated_at)
                SELECT gen_random_uuid(), k.tenant_id, k.id, :policy, t.target, 'running',
                    k.created_at, k.created_at + t.due, k.created_at + t.due * 0.8, k.created_at
                FROM tickets k,
                    (VALUES ('first_response', interval '60 minutes'),
                            ('resolution', interval '480 minutes')) AS t(target, due)
                WHERE k.tenant_id = :tenant
                """
            ),
            params,
        )
        await session.execute(
            text("UPDATE tenants SET next_ticket_number = :n + 1 WHERE id = :tenant"), params
        )
    seed_seconds = time.perf_counter() - began
    await maintain(engine, "VACUUM ANALYZE tickets", "VACUUM ANALYZE sla_timers")
    return {
        "tickets_insert_s": round(ticket_seconds, 1),
        "tickets_and_timers_insert_s": round(seed_seconds, 1),
        "analyze_s": round(time.perf_counter() - began - seed_seconds, 1),
    }


async def count(sessions: Sessions, sql: str, **params: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(text(sql), params)).scalar_one())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


async def drain(sessions: Sessions, scanners: int, batch: int) -> dict[str, Any]:
    """Every due timer handled by `scanners` concurrent scan loops; the time and the batches."""
    batches: list[float] = []

    async def loop() -> int:
        emitted = 0
        while True:
            began = time.perf_counter()
            done = await scan_sla(sessions, now=NOW, batch=batch)
            if not done:
                return emitted
            batches.append(time.perf_counter() - began)
            emitted += done

    began = time.perf_counter()
    emitted = sum(await asyncio.gather(*(loop() for _ in range(scanners))))
    seconds = time.perf_counter() - began
    timers = await count(sessions, "SELECT count(*) FROM sla_timers WHERE breached_at IS NOT NULL")
    distinct = await count(
        sessions,
        "SELECT count(DISTINCT id) FROM outbox WHERE routing_key IN ('sla.warning', 'sla.breached')",
    )
    return {
        "scanners": scanners,
        "events": emitted,
        "events_in_outbox": distinct,
        "timers_breached": timers,
        "seconds": round(seconds, 2),
        "events_per_s": round(emitted / seconds, 1),
        "timers_per_s": round(timers / seconds, 1),
        "batch_ms_p50": round(percentile(batches, 50) * 1000, 1),
        "batch_ms_p99": round(percentile(batches, 99) * 1000, 1),
    }


async def reset(engine: AsyncEngine, sessions: Sessions) -> None:
    """Make the drained timers due again and forget their events."""
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE sla_timers SET warned_at = NULL, breached_at = NULL "
                "WHERE warned_at IS NOT NULL OR breached_at IS NOT NULL"
            )
        )
        await session.execute(text("DELETE FROM ticket_history"))
        await session.execute(text("DELETE FROM outbox"))
    await maintain(engine, "VACUUM ANALYZE sla_timers", "VACUUM ANALYZE outbox")


async def empty_scans(sessions: Sessions, rounds: int, batch: int) -> dict[str, float]:
    each: list[float] = []
    for _ in range(rounds):
        began = time.perf_counter()
        done = await scan_sla(sessions, now=NOW, batch=batch)
        each.append(time.perf_counter() - began)
        assert done == 0, done
    return {
        "rounds": rounds,
        "ms_p50": round(statistics.median(each) * 1000, 2),
        "ms_p99": round(percentile(each, 99) * 1000, 2),
        "ms_max": round(max(each) * 1000, 2),
    }


async def plans(sessions: Sessions, batch: int) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE of both claims (rolled back: they are UPDATEs)."""
    shown: dict[str, list[str]] = {}
    for name, claim in (("warnings", CLAIM_WARNINGS), ("breaches", CLAIM_BREACHES)):
        async with sessions() as session:
            rows = await session.execute(
                text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(claim)),
                {"now": NOW, "batch": batch},
            )
            shown[name] = [line for (line,) in rows]
            await session.rollback()
    return shown


async def main(args: argparse.Namespace) -> dict[str, Any]:
    database_url = await create_database(args.database_url)
    engine = make_engine(database_url, pool_size=max(args.scanners) + 1)
    sessions = make_sessions(engine)
    try:
        result: dict[str, Any] = {
            "tickets": args.tickets,
            "timers": 2 * args.tickets,
            "due_share": args.due,
            "batch": args.batch,
        }
        result["seed"] = await seed(engine, sessions, args.tickets, args.due)
        result["due_timers"] = await count(
            sessions, "SELECT count(*) FROM sla_timers WHERE due_at <= :now", now=NOW
        )
        result["plans_with_due"] = await plans(sessions, args.batch)
        result["runs"] = []
        for i, scanners in enumerate(args.scanners):
            if i:
                await reset(engine, sessions)
            run = await drain(sessions, scanners, args.batch)
            expected = result["due_timers"] * 2
            if not run["events"] == run["events_in_outbox"] == expected:
                raise SystemExit(f"expected {expected} events exactly once, got {run}")
            result["runs"].append(run)
        result["empty_scan"] = await empty_scans(sessions, args.empty_scans, args.batch)
        result["plans_nothing_due"] = await plans(sessions, args.batch)
    finally:
        await engine.dispose()
        if not args.keep:
            await drop_database(args.database_url)
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--due", type=float, default=0.01, help="share of tickets overdue")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--scanners", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--empty-scans", type=int, default=500)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server and a database to connect to for creating postdesk_bench_sla",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "out" / f"sla-scan-{int(time.time())}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
