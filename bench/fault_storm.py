"""The full-size fault run (issue 10, scenarios 1 to 3 at once): minutes of steady mail while
faults strike one after another at seeded moments, each drawn at random among kill -9 of
ingest, parser, router, notifier or outbound and a stop and start of the broker or the
database; at the end, the fault suite's invariant over every accepted mail.

The pipeline runs as real processes (tests/faults/stack.py) on a private
RabbitMQ node and a private PostgreSQL cluster started for the run (so both
can be stopped without touching the machine's servers), with the demo
tenant, an auto-reply on its mailbox and the development mail sink as its
SMTP server. The source posts the seeded benchmark corpus through the signed
webhook at `--rate` mails a second and retries what is refused or cut off.
Faults come one at a time: after each, every service is ready again before
the next pause (`--gap` seconds). The sized-down version is
tests/faults/test_fault_storm.py; docs/reliability.md keeps the results.

    uv run python bench/fault_storm.py [--mails 6000] [--rate 10] [--seed 20261126]

Prints each fault as it strikes, then a table; writes bench/out/fault-storm-<timestamp>.json;
exits 1 when the invariant does not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fault suite's stack and invariant (tests/faults)

from tests.faults.outage import outage_stack  # noqa: E402
from tests.faults.private_postgres import private_postgres  # noqa: E402
from tests.faults.private_rabbitmq import private_rabbitmq  # noqa: E402
from tests.faults.stack import corpus  # noqa: E402
from tests.faults.storm import KINDS, StormPlan, StormResult, run_storm  # noqa: E402


async def storm(plan: StormPlan, workdir: Path) -> StormResult:
    mails = corpus(workdir / "corpus", plan.mails, seed=plan.seed)
    with private_postgres() as cluster, private_rabbitmq() as rabbit:
        database_url = await cluster.create_database("postdesk")
        async with outage_stack(database_url, rabbit.url, workdir) as stack:
            # minutes of INFO lines would fill the log kept in memory
            stack.supervisor.env = {**stack.supervisor.env, "LOG_LEVEL": "WARNING"}
            return await run_storm(
                stack,
                mails,
                plan,
                rabbit=rabbit,
                cluster=cluster,
                progress=lambda line: print(line, flush=True),
            )


def table(summary: dict[str, object]) -> str:
    width = max(len(key) for key in summary)
    return "\n".join(f"{key:<{width}}  {value}" for key, value in summary.items())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=6000)
    parser.add_argument("--rate", type=float, default=10.0, help="mails offered per second")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--gap", type=float, nargs=2, default=(1.0, 4.0), metavar=("MIN", "MAX"))
    parser.add_argument("--down", type=float, nargs=2, default=(0.2, 4.0), metavar=("MIN", "MAX"))
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    args = parser.parse_args()
    plan = StormPlan(
        mails=args.mails,
        rate=args.rate,
        seed=args.seed,
        in_flight=args.in_flight,
        gap=(args.gap[0], args.gap[1]),
        down=(args.down[0], args.down[1]),
        kinds=tuple(args.kinds),
        settle_within=600.0,
    )
    with tempfile.TemporaryDirectory(prefix="pd-storm-") as workdir:
        result = asyncio.run(storm(plan, Path(workdir)))
    summary = result.summary()
    print(table(summary))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    record = {**summary, "faults_struck": [asdict(fault) for fault in result.faults]}
    (out / f"fault-storm-{stamp}.json").write_text(json.dumps(record, indent=2))
    return 0 if result.holds else 1


if __name__ == "__main__":
    sys.exit(main())
