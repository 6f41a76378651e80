"""Pipeline load: post generated emails through the ingest webhook, time them to their ticket.

Starts its own stack (all six services as processes, a fresh database and
RabbitMQ virtual host), seeds a tenant whose mailbox receives the corpus,
offers the corpus at a fixed rate (or as fast as it can with --rate 0), and
measures for every email the time from the webhook's 202 to the
ticket.message_added event that puts it on a ticket. Prints messages/s,
p50/p95/p99 latency and peak memory per service, and writes them as JSON.

    uv run python bench/pipeline.py --count 1000 --rate 0
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import aio_pika
import httpx
import psutil
from postdesk_cli.services import SERVICES
from postdesk_cli.supervisor import Supervisor
from postdesk_ingest.domain import signature_headers
from postdesk_runtime.db import make_engine, make_sessions
from postdesk_schema import AccountKind, EmailAccount, Tenant
from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase

ROOT = Path(__file__).resolve().parent.parent
GEN_CORPUS = ROOT.parent / "shared" / "bench-corpus" / "gen_corpus.py"
MAILBOX = "support@acme-helpdesk.example"
SECRET = "bench-webhook-secret"  # noqa: S105  # loopback-only bench stack


def corpus(out: Path, count: int, seed: int | None) -> list[bytes]:
    target = out / f"corpus-{count}-{seed or 'default'}"
    if not (target / "manifest.jsonl").exists():
        args = [sys.executable, str(GEN_CORPUS), "--out", str(target), "--count", str(count)]
        if seed is not None:
            args += ["--seed", str(seed)]
        subprocess.run(args, check=True, capture_output=True)
    files = [
        json.loads(line)["file"] for line in (target / "manifest.jsonl").read_text().splitlines()
    ]
    return [(target / "msgs" / name).read_bytes() for name in files]


async def seed_tenant(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    async with make_sessions(engine)() as session, session.begin():
        tenant = Tenant(name="Bench", slug="bench")
        session.add(tenant)
        await session.flush()
        session.add(EmailAccount(tenant_id=tenant.id, address=MAILBOX, kind=AccountKind.SHARED))
    await engine.dispose()


class MemorySampler:
    """Peak resident memory of each service process, sampled every 200 ms, and CPU seconds used."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.peaks: dict[str, int] = dict.fromkeys(supervisor.processes, 0)
        self._procs = {n: psutil.Process(p.process.pid) for n, p in supervisor.processes.items()}
        self._cpu_start = {n: self._cpu(p) for n, p in self._procs.items()}
        self.cpu_seconds: dict[str, float] = {}

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for name, proc in self._procs.items():
                try:
                    rss = proc.memory_info().rss + sum(
                        c.memory_info().rss for c in proc.children(recursive=True)
                    )
                except psutil.Error:
                    continue
                self.peaks[name] = max(self.peaks[name], rss)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = {
            n: round(self._cpu(p) - self._cpu_start[n], 1) for n, p in self._procs.items()
        }


async def observe(
    amqp_url: str, done: dict[str, float], expected: int, finished: asyncio.Event
) -> aio_pika.abc.AbstractConnection:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(f"bench.observer.{uuid.uuid4().hex[:8]}", exclusive=True)
    await queue.bind("postdesk.events", routing_key="ticket.message_added")

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        correlation = json.loads(message.body)["correlation_id"]
        done.setdefault(correlation, time.perf_counter())
        await message.ack()
        if len(done) >= expected:
            finished.set()

    await queue.consume(on_message)
    return connection


async def offer(
    gateway: str, mails: list[bytes], rate: float, concurrency: int
) -> tuple[dict[str, float], int]:
    accepted: dict[str, float] = {}
    duplicates = 0
    limit = asyncio.Semaphore(concurrency)
    start = time.perf_counter()

    async def send(i: int, raw: bytes, client: httpx.AsyncClient) -> None:
        nonlocal duplicates
        if rate > 0:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        async with limit:
            response = await client.post(
                gateway,
                content=raw,
                params={"rcpt": MAILBOX},
                headers={"Content-Type": "message/rfc822", **signature_headers(SECRET, raw)},
            )
        response.raise_for_status()
        body = response.json()
        if body["status"] == "duplicate":
            duplicates += 1
        else:
            accepted[body["event_id"]] = time.perf_counter()

    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        await asyncio.gather(*(send(i, raw, client) for i, raw in enumerate(mails)))
    return accepted, duplicates


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]
        if len(values) > 1
        else values[0]
    )


async def main(args: argparse.Namespace) -> dict[str, object]:
    mails = corpus(ROOT / "bench" / "out", args.count, args.seed)
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    await seed_tenant(database_url)
    log = io.StringIO()
    supervisor = Supervisor(
        env={
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "BLOB_DIR": str(ROOT / "bench" / "out" / f"blobs-{database.name}"),
            "INGEST_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
            "INGEST_RATE_PER_SOURCE": "off",  # the bench offers more than one source may
            "INGEST_RATE_PER_TENANT": "off",
        },
        ports={name: args.base_port + i for i, name in enumerate(SERVICES)},
        sink=log,
    )
    try:
        supervisor.start_all()
        await asyncio.to_thread(supervisor.wait_ready, 90)
        done: dict[str, float] = {}
        finished = asyncio.Event()
        observer = await observe(amqp_url, done, len(mails), finished)
        with MemorySampler(supervisor) as memory:
            began = time.perf_counter()
            accepted, duplicates = await offer(
                f"http://127.0.0.1:{supervisor.ports['ingest']}/webhooks/raw",
                mails,
                args.rate,
                args.concurrency,
            )
            accept_seconds = time.perf_counter() - began
            expected = len(accepted)
            deadline = time.perf_counter() + args.timeout
            # Polls two conditions, one of them a clock.
            while len(set(done) & set(accepted)) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            elapsed = max(done.values(), default=began) - began
        await observer.close()
        latencies = sorted(done[k] - accepted[k] for k in accepted if k in done)
        result: dict[str, object] = {
            "count": len(mails),
            "offered_rate": args.rate or "max",
            "accepted": expected,
            "duplicates_at_ingest": duplicates,
            "on_a_ticket": len(latencies),
            "accept_rate_per_s": round(expected / accept_seconds, 1),
            "pipeline_rate_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0,
            "latency_ms": {
                "p50": round(percentile(latencies, 50) * 1000, 1),
                "p95": round(percentile(latencies, 95) * 1000, 1),
                "p99": round(percentile(latencies, 99) * 1000, 1),
                "max": round(latencies[-1] * 1000, 1),
            }
            if latencies
            else {},
            "peak_rss_mib": {name: round(rss / 2**20, 1) for name, rss in memory.peaks.items()},
            "cpu_seconds": memory.cpu_seconds,
        }
    finally:
        await asyncio.to_thread(supervisor.stop_all)
        vhost.drop()
        await database.drop()
    if len(latencies) < expected:
        print(log.getvalue()[-5000:], file=sys.stderr)
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--seed", type=int, default=None, help="corpus seed (default: the generator's)"
    )
    parser.add_argument(
        "--rate", type=float, default=0, help="offered messages/s; 0 = as fast as it can"
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--base-port", type=int, default=28100)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "out" / f"pipeline-{int(time.time())}.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
