"""The load benchmark of issue 10: one command runs it all and prints a table.

On a fresh database and RabbitMQ virtual host it starts every service and the
mail sink as processes (bench/load_stack.py), for the demo tenant with every
user always at work, and offers distinct mails made from the corpus through
ingest's signed webhook. A mail is done when the router's commit that puts
it on a ticket is seen on postdesk.events: ticket.assigned when it opened a
ticket, ticket.message_added when it joined one (joining mail is not
assigned again). Parts, each skippable with --skip:

throughput  --count mails as fast as accepted (--concurrency in flight): steady
            mails/s (first and last 10% of completions left out) and CPU per
            mail of postdesk, PostgreSQL (every postgres process: the server
            is shared, see the load average) and RabbitMQ (beam.smp and its
            children), with the load generator's own CPU beside them
latency     --latency-rate mails/s for --latency-seconds: p50/p99/max accept to
            done, and whether the stack kept up
memory      each service's RSS after the throughput run
soak        --soak-rate mails/s for --soak-minutes (default off): RSS and every
            queue's depth each 10 s; first and last window, slope, verdict
drain       parser, router, notifier and outbound stopped; ingest accepts
            --drain-count mails through the webhook (as it would during an
            outage, writing blobs and its processing log), the consumers
            start, and the drain is timed with each service's RSS every second
floor       the same hops and transactions with bare aio-pika and asyncpg
            (bench/load_floor.py), parser on policy compat32 and on default,
            on their own vhost and database, after the stack has stopped

Prints the table and writes bench/out/load-<timestamp>.json.

    uv run python bench/load.py             # full size
    uv run python bench/load.py --small     # a smoke run of a minute or two
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
from datetime import UTC, datetime
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from load_floor_run import run_floor
from load_meters import rss_mib
from load_parts import drain, latency, quiet, soak, throughput
from load_report import table
from load_stack import MailSource, Observer, Stack, offer
from pipeline import GEN_CORPUS, corpus

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PARTS = ("throughput", "latency", "soak", "drain", "floor")


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}{'+dirty' if dirty else ''}"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    base = corpus(OUT, args.base_count, args.seed)
    source = MailSource(base)
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "arguments": dict(vars(args)),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()},
    }
    parts = [
        part
        for part in PARTS
        if part not in args.skip and (part != "soak" or args.soak_minutes > 0)
    ]
    stack = Stack(args.base_port, args.db_pool)
    observer = Observer("")
    try:
        await stack.start()
        observer = Observer(stack.amqp_url)
        await observer.start()
        warm = await offer(stack.webhook_url, source.mails("w", 50), concurrency=8)
        await observer.wait_for(set(warm.accepted), 60)
        for part, run in (
            ("throughput", throughput),
            ("latency", latency),
            ("soak", soak),
            ("drain", drain),
        ):
            if part in parts:
                await quiet(stack, args.timeout)
                print(f"{part} ...", flush=True)
                result[part] = await run(stack, observer, source, args)
            if part == "throughput" and part in parts:
                result["steady_rss_mib"] = {n: rss_mib(pid) for n, pid in stack.pids().items()}
    except BaseException:
        print(stack.log.getvalue()[-5000:])
        raise
    finally:
        await observer.stop()
        await stack.close()
    if "floor" in parts:
        print("floor ...", flush=True)
        corpus_dir = OUT / f"corpus-{args.base_count}-{args.seed or 'default'}"
        files = sorted((corpus_dir / "msgs").glob("*.eml"))
        paths = list(islice(cycle(files), args.floor_count or args.count))
        runs = {
            policy: await run_floor(paths, policy, pool=args.db_pool, wait_seconds=args.timeout)
            for policy in ("compat32", "default")
        }
        floor: dict[str, Any] = {"runs": runs}
        if "throughput" in result:
            postdesk = result["throughput"]["steady_mails_per_s"]
            floor["postdesk_over_floor"] = {
                policy: round(postdesk / run["steady_mails_per_s"], 2)
                for policy, run in runs.items()
                if run["steady_mails_per_s"]
            }
        result["floor"] = floor
    result["machine"]["loadavg_after"] = os.getloadavg()
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--count", type=int, default=3000, help="mails of the throughput and floor runs"
    )
    parser.add_argument("--latency-rate", type=float, default=100)
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--drain-count", type=int, default=100_000)
    parser.add_argument(
        "--soak-minutes", type=float, default=0, help="0: no soak (the issue's soak is 30)"
    )
    parser.add_argument("--soak-rate", type=float, default=50)
    parser.add_argument(
        "--small",
        action="store_true",
        help="a smoke run: 300 mails, 10 s of latency, a drain of 2,000",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=PARTS, help="a part not to run (repeatable)"
    )
    parser.add_argument(
        "--floor-count", type=int, default=0, help="mails of each floor run (default: --count)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="webhook requests in flight")
    parser.add_argument(
        "--db-pool", type=int, default=4, help="DB_POOL_SIZE of each service and floor stage"
    )
    parser.add_argument(
        "--base-count", type=int, default=1000, help=f"size of the base corpus ({GEN_CORPUS.name})"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="corpus seed (default: the generator's)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds to wait for the last mail of a part"
    )
    parser.add_argument("--base-port", type=int, default=28300)
    args = parser.parse_args()
    if args.small:
        args.count, args.latency_seconds, args.drain_count = 300, 10, 2000
        args.floor_count = args.floor_count or 1000
    result = asyncio.run(main(args))
    print(table(result))
    OUT.mkdir(exist_ok=True)
    out = OUT / f"load-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    cli()
