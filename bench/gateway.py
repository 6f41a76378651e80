"""Gateway: the inbox list, sidebar counts, ticket view and search over a large tenant.

Seeds (or keeps) `postdesk_bench_gateway` with bench/gateway_seed.py (default: a
million tickets over 1,000 mailboxes and 200 users), starts the real gateway
(`postdesk-gateway`, its own process, default settings but a longer access-token
life) against it, logs in as tenant admins and as members with small and large
inboxes, then runs `--processes` load generators (each its own process, `--concurrency`
requests in flight over httpx) for `--duration` seconds. Each request picks a logged-in
user and a kind, by weight:

- list: GET /tickets (default: latest activity first, 50 a page)
- list_assigned: GET /tickets?assigned_to_me=true
- list_status: GET /tickets?status=open&status=pending
- list_next: GET /tickets?cursor=... (the next page of a list this user fetched before)
- counts: GET /tickets/counts
- view: GET /tickets/{id} (a ticket from this user's lists; audit-logged, marks it read)
- search: GET /tickets?q=... (a frequent word, a product, a customer's surname, a single
  order number `ord-<n>`, two words)

Prints, per kind, per kind and role (`list:admin`, `list:member`; errors are counted per
kind only) and in all, requests/s, p50/p99/max latency and errors (any status but
200), the gateway's RSS (start and peak, sampled every 100 ms) and its CPU seconds, and
keeps the JSON in bench/out/gateway-<tickets>-c<concurrency>[-<kinds>].json. The database
stays (its name is printed); `--drop` removes it afterwards.

    uv run python bench/gateway.py [--tickets 1000000] [--concurrency 16] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import psutil
from gateway_seed import (
    ADMIN_URL,
    ADMINS,
    DATABASE,
    PASSWORD,
    PRODUCTS,
    Size,
    drop,
    ensure_seeded,
    user_email,
)
from postdesk_cli.supervisor import Supervisor
from postdesk_testing.infra import IsolatedAmqp
from process_sampler import Sampler

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# how often each kind is asked for, relative to the others
WEIGHTS = {
    "list": 3,
    "list_assigned": 2,
    "list_status": 2,
    "list_next": 2,
    "counts": 3,
    "view": 4,
    "search": 2,
}
SEARCH_WORDS = ["invoice", "refund", "password", "kowalski", "dark mode", "export csv"]


@dataclass
class Login:
    label: str
    token: str
    is_admin: bool


@dataclass
class Plan:
    base_url: str
    logins: list[Login]
    tickets: int
    concurrency: int
    duration: float
    seed: int
    kinds: list[str]


@dataclass
class Samples:
    """What one load generator saw: latencies (seconds) per kind and per "kind:role", and
    error statuses per kind."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    seconds: float = 0.0


class UserState:
    """What a user's earlier lists showed: tickets to open, a cursor to follow."""

    def __init__(self) -> None:
        self.ticket_ids: list[str] = []
        self.cursor: str | None = None

    def remember(self, page: dict[str, Any]) -> None:
        ids = [item["id"] for item in page["items"]]
        self.ticket_ids = (ids + self.ticket_ids)[:500]
        if page.get("next_cursor"):
            self.cursor = page["next_cursor"]


def request_for(
    kind: str, state: UserState, rng: random.Random, tickets: int
) -> tuple[str, dict[str, Any]]:
    """(path, query) of one request of `kind`; falls back to a plain list when the user's
    state has nothing to follow yet."""
    if kind == "list_assigned":
        return "/tickets", {"assigned_to_me": "true"}
    if kind == "list_status":
        return "/tickets", {"status": ["open", "pending"]}
    if kind == "list_next" and state.cursor:
        return "/tickets", {"cursor": state.cursor}
    if kind == "counts":
        return "/tickets/counts", {}
    if kind == "view" and state.ticket_ids:
        return f"/tickets/{rng.choice(state.ticket_ids)}", {}
    if kind == "search":
        choice = rng.randrange(len(SEARCH_WORDS) + 2)
        if choice < len(SEARCH_WORDS):
            q = SEARCH_WORDS[choice]
        elif choice == len(SEARCH_WORDS):
            q = rng.choice(PRODUCTS).lower()
        else:
            q = f"ord-{rng.randrange(1, tickets + 1)}"
        return "/tickets", {"q": q}
    return "/tickets", {}


async def drive(plan: Plan) -> Samples:
    """`plan.concurrency` workers sending requests until `plan.duration` is over."""
    samples = Samples()
    states = {login.label: UserState() for login in plan.logins}
    kinds = [kind for kind in plan.kinds for _ in range(WEIGHTS[kind])]
    limits = httpx.Limits(
        max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency
    )
    async with httpx.AsyncClient(base_url=plan.base_url, limits=limits, timeout=60.0) as client:

        async def worker(index: int) -> None:
            rng = random.Random(plan.seed * 1000 + index)
            while time.monotonic() < deadline:
                login = rng.choice(plan.logins)
                kind = rng.choice(kinds)
                state = states[login.label]
                path, params = request_for(kind, state, rng, plan.tickets)
                began = time.perf_counter()
                try:
                    response = await client.get(
                        path, params=params, headers={"Authorization": f"Bearer {login.token}"}
                    )
                except httpx.TimeoutException:
                    samples.errors[kind]["timeout"] += 1
                    continue
                elapsed = time.perf_counter() - began
                role = "admin" if login.is_admin else "member"
                if response.status_code != 200:
                    samples.errors[kind][str(response.status_code)] += 1
                    continue
                samples.latencies[kind].append(elapsed)
                samples.latencies[f"{kind}:{role}"].append(elapsed)
                if path == "/tickets":
                    page = response.json()
                    if kind == "list_next":
                        state.cursor = page.get("next_cursor")
                    state.remember(page)

        started = time.perf_counter()
        deadline = time.monotonic() + plan.duration
        await asyncio.gather(*(worker(i) for i in range(plan.concurrency)))
        samples.seconds = time.perf_counter() - started
    return samples


def load_generator(plan: Plan, results: Any) -> None:
    """A load generator process: drives the plan and sends its samples back."""
    samples = asyncio.run(drive(plan))
    results.put(
        {
            "latencies": dict(samples.latencies),
            "errors": {kind: dict(statuses) for kind, statuses in samples.errors.items()},
            "seconds": samples.seconds,
        }
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def summary(values: list[float], errors: int, seconds: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"requests": len(values), "errors": errors}
    if values:
        figures |= {
            "rps": round(len(values) / seconds, 1),
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }
    return figures


def pick_users(size: Size, members: int) -> list[tuple[str, int]]:
    """(label, user index): the first admin and members spread over the assignment counts
    (a member u holds 5 + (37 u mod 46) mailboxes, see gateway_seed)."""
    candidates = sorted(range(ADMINS, size.users), key=lambda u: 5 + (u * 37) % 46)
    step = max(1, len(candidates) // max(1, members))
    chosen = candidates[::step][:members]
    picked = [("admin-0", 0)]
    picked += [(f"member-{u}-{5 + (u * 37) % 46}mb", u) for u in chosen]
    return picked


async def log_in(base_url: str, users: list[tuple[str, int]]) -> list[Login]:
    logins = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        for label, index in users:
            response = await client.post(
                "/auth/login", json={"email": user_email(index), "password": PASSWORD}
            )
            response.raise_for_status()
            logins.append(Login(label, response.json()["access_token"], index < ADMINS))
    return logins


def run_load(plan: Plan, processes: int) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    per_process = max(1, plan.concurrency // processes)
    workers = [
        context.Process(
            target=load_generator,
            args=(replace(plan, concurrency=per_process, seed=plan.seed + p), results),
        )
        for p in range(processes)
    ]
    for process in workers:
        process.start()
    collected = [results.get(timeout=plan.duration + 300) for _ in workers]
    for process in workers:
        process.join()
    return collected


def combine(collected: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = max(c["seconds"] for c in collected)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in collected:
        for kind, values in c["latencies"].items():
            latencies[kind] += values
        for kind, statuses in c["errors"].items():
            for status, count in statuses.items():
                errors[kind][status] += count
    kinds = {
        kind: summary(latencies[kind], sum(errors[kind].values()), seconds)
        | ({"error_statuses": dict(errors[kind])} if errors[kind] else {})
        for kind in sorted(set(latencies) | set(errors))
        if ":" not in kind
    }
    by_role = {
        kind: summary(latencies[kind], 0, seconds) for kind in sorted(latencies) if ":" in kind
    }
    everything = [v for kind, values in latencies.items() if ":" not in kind for v in values]
    total_errors = sum(sum(s.values()) for s in errors.values())
    return {
        "kinds": kinds,
        "all": summary(everything, total_errors, seconds),
        "by_role": by_role,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    size = Size(args.tickets, args.accounts, args.users)
    database_url, seeded = await ensure_seeded(
        args.database_url, size, reseed=args.reseed, name=args.name
    )
    vhost = IsolatedAmqp()
    amqp_url = vhost.create()
    log = io.StringIO()
    supervisor = Supervisor(
        env={
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "LOG_LEVEL": "WARNING",
            "ACCESS_TOKEN_MINUTES": "240",
            "BLOB_DIR": str(OUT / "gateway-blobs"),
        },
        ports={"gateway": args.port},
        sink=log,
    )
    try:
        gateway = supervisor.start("gateway")
        await asyncio.to_thread(supervisor.wait_ready, 60)
        logins = await log_in(gateway.base_url, pick_users(size, args.members))
        plan = Plan(
            base_url=gateway.base_url,
            logins=logins,
            tickets=size.tickets,
            concurrency=args.concurrency,
            duration=args.duration,
            seed=args.seed,
            kinds=args.kinds,
        )
        if args.warmup > 0:
            warm = replace(plan, duration=args.warmup)
            await asyncio.to_thread(run_load, warm, args.processes)
        with Sampler(gateway.process.pid) as use:
            collected = await asyncio.to_thread(run_load, plan, args.processes)
    except BaseException:
        print(log.getvalue()[-5000:], file=sys.stderr)
        raise
    finally:
        await asyncio.to_thread(supervisor.stop_all)
        vhost.drop()
    result = combine(collected)
    if result["all"]["errors"]:
        print(log.getvalue()[-5000:], file=sys.stderr)
    return {
        "database": args.name,
        "tickets": size.tickets,
        "accounts": size.accounts,
        "users": size.users,
        "logged_in": [login.label for login in logins],
        "concurrency": args.concurrency,
        "load_processes": args.processes,
        "duration_s": args.duration,
        "cpus": psutil.cpu_count(),
        **seeded,
        **result,
        "gateway_rss_mb": {
            "start": round(use.start / 2**20),
            "peak": round(use.peak / 2**20),
        },
        "gateway_cpu_s": round(use.cpu_seconds, 1),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=ADMIN_URL, help="server (its maintenance DB)")
    parser.add_argument("--name", default=DATABASE)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--members", type=int, default=6, help="members logged in (+1 admin)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--processes", type=int, default=1, help="load generator processes")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds, not measured")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=18790)
    parser.add_argument("--kinds", nargs="+", default=list(WEIGHTS), choices=list(WEIGHTS))
    parser.add_argument("--reseed", action="store_true", help="seed again even if kept")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    if args.drop:
        asyncio.run(drop(args.database_url, args.name))
    print(json.dumps(result, indent=2))
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.kinds == list(WEIGHTS) else "-" + "-".join(args.kinds)
    out = OUT / f"gateway-{args.tickets}-c{args.concurrency}{suffix}.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
