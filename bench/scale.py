"""Scale-out: the pipeline with one versus two replicas of the parser and of the router.

For each setting it starts a fresh stack (a new database and RabbitMQ virtual
host; ingest, notifier, outbound and gateway once, parser and router as many
times as the setting says), offers the corpus through the ingest webhook as
bench/pipeline.py does, and measures mails/s to the ticket, p50/p99 from the
webhook's 202 to ticket.message_added, and the CPU seconds each process used,
from which it derives the CPU cost per mail of each service. Prints the
settings as JSON and writes them to bench/out/.

    uv run python bench/scale.py --count 400
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from pipeline import (
    SECRET,
    MemorySampler,
    corpus,
    observe,
    offer,
    percentile,
    seed_tenant,
)
from postdesk_cli.services import SERVICES
from postdesk_cli.supervisor import Supervisor
from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase

ROOT = Path(__file__).resolve().parent.parent
SCALED = ("parser", "router")


def process_names(replicas: int) -> list[tuple[str, str]]:
    """(process name, service) for every process of a setting: "parser-1", "parser-2", ..."""
    return [
        (f"{service}-{n}", service)
        for service in SERVICES
        for n in range(1, (replicas if service in SCALED else 1) + 1)
    ]


async def run_setting(
    mails: list[bytes], replicas: int, args: argparse.Namespace
) -> dict[str, object]:
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    await seed_tenant(database_url)
    names = process_names(replicas)
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
        ports={name: args.base_port + i for i, (name, _) in enumerate(names)},
        sink=log,
    )
    latencies: list[float] = []
    try:
        for name, service in names:
            supervisor.start(name, service=service)
        await asyncio.to_thread(supervisor.wait_ready, 120)
        done: dict[str, float] = {}
        finished = asyncio.Event()
        observer = await observe(amqp_url, done, len(mails), finished)
        with MemorySampler(supervisor) as sampler:
            began = time.perf_counter()
            accepted, _ = await offer(
                f"{supervisor.processes['ingest-1'].base_url}/webhooks/raw",
                mails,
                args.rate,
                args.concurrency,
            )
            deadline = time.perf_counter() + args.timeout
            # Polls two conditions, one of them a clock.
            while len(set(done) & set(accepted)) < len(accepted) and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            elapsed = max(done.values(), default=began) - began
        await observer.close()
        latencies = sorted(done[k] - accepted[k] for k in accepted if k in done)
    finally:
        await asyncio.to_thread(supervisor.stop_all)
        vhost.drop()
        await database.drop()
    if len(latencies) < len(accepted):
        print(log.getvalue()[-5000:], file=sys.stderr)
    cpu_per_service: dict[str, float] = defaultdict(float)
    for name, service in names:
        cpu_per_service[service] += sampler.cpu_seconds.get(name, 0.0)
    return {
        "replicas": {service: replicas if service in SCALED else 1 for service in SERVICES},
        "count": len(mails),
        "accepted": len(accepted),
        "on_a_ticket": len(latencies),
        "mails_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0,
        "latency_ms": {
            "p50": round(percentile(latencies, 50) * 1000, 1),
            "p99": round(percentile(latencies, 99) * 1000, 1),
        }
        if latencies
        else {},
        "cpu_seconds": sampler.cpu_seconds,
        "cpu_ms_per_mail": {
            service: round(seconds * 1000 / max(len(latencies), 1), 1)
            for service, seconds in cpu_per_service.items()
        },
    }


async def main(args: argparse.Namespace) -> dict[str, object]:
    mails = corpus(ROOT / "bench" / "out", args.count, args.seed)
    settings = [await run_setting(mails, replicas, args) for replicas in args.replicas]
    return {"settings": settings}


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument(
        "--seed", type=int, default=None, help="corpus seed (default: the generator's)"
    )
    parser.add_argument(
        "--replicas",
        type=int,
        nargs="+",
        default=[1, 2],
        help="parser and router replicas, one stack per value",
    )
    parser.add_argument(
        "--rate", type=float, default=0, help="offered messages/s; 0 = as fast as it can"
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--base-port", type=int, default=28200)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "out" / f"scale-{args.count}-{int(time.time())}.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
