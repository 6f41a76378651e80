"""Router: does a decision cost more as a tenant's tables grow?

The soak (bench/load.py --soak-minutes) showed the router falling behind a steady
30 mails/s after twenty-odd minutes. This bench isolates the router from the rest
of the pipeline: the seeded corpus is parsed once (as bench/routing.py does), then
routed again and again into ONE tenant, round after round, each round's mails
renamed (Message-ID, In-Reply-To and References get a round suffix, so every
round opens new tickets and threads as the first did, and received times move
on by the corpus's span). Each round is routed by `--concurrency` tasks, as the
router service's prefetch does, and reports decisions/s, p50/p99, statements per
decision and the statements that cost most, with the tenant's ticket count
before it. A cost that grows with the tables shows up as a rising row in the
table; autovacuum runs as it would in production (no ANALYZE between rounds).
`--numbers` chooses how ticket numbers are taken: in a transaction of their own
as the router service does (`own`), or inside the routing transaction (`inside`,
as before ADR 0013), which holds the tenant row locked until the commit.

    uv run python bench/routing_growth.py [--count 2000] [--rounds 10] [--concurrency 4]
        [--numbers own|inside] [--strategy primary|round_robin|least_open]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from postdesk_contracts import Envelope, MailParsed
from postdesk_router.settings import RouterSettings
from postdesk_runtime import (
    ThreadTokens,
    configure_logging,
    make_blob_store,
    make_counter_engine,
    make_engine,
    make_sessions,
)
from postdesk_schema import TicketNumbers, take_ticket_number
from postdesk_testing.infra import IsolatedDatabase

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import ROOT, corpus, percentile  # bench/ is not a package
from routing import (
    RECEIVED_EVERY,
    Bench,
    StatementCounter,
    fresh_events,
    ms,
    parse_corpus,
    route_all,
    seed_tenant,
    tenant_figures,
)


def with_suffix(message_id: str, suffix: str) -> str:
    """`<local@host>` as `<local.suffix@host>`: the same thread shape, another id."""
    local, at, host = message_id.rpartition("@")
    return f"{local}.{suffix}{at}{host}" if at else f"{message_id}.{suffix}"


def renamed(mail: MailParsed, round_number: int, span: int) -> MailParsed:
    """The mail of round `round_number`: its ids and references renamed, received later."""
    suffix = f"r{round_number}"
    return mail.model_copy(
        update={
            "message_id": with_suffix(mail.message_id, suffix),
            "in_reply_to": [with_suffix(m, suffix) for m in mail.in_reply_to],
            "references": [with_suffix(m, suffix) for m in mail.references],
            "received_at": mail.received_at + RECEIVED_EVERY * span * round_number,
        }
    )


def round_events(
    templates: list[MailParsed], round_number: int, address: str
) -> list[Envelope[MailParsed]]:
    renamed_templates = [renamed(m, round_number, len(templates)) for m in templates]
    return fresh_events(renamed_templates, [address])


async def growth_round(
    bench: Bench, address: str, round_number: int, concurrency: int, top: int
) -> dict[str, Any]:
    events = round_events(bench.templates, round_number, address)
    bench.counter.reset()
    began = time.perf_counter()
    outcomes, latencies = await route_all(bench.route, events, concurrency)
    wall = time.perf_counter() - began
    decisions = len(outcomes)
    holds = bench.counter.lock_holds.get("tenant row (ticket number)", [])
    return {
        "round": round_number,
        "decisions_per_s": round(decisions / wall, 1),
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "statements_per_decision": round(bench.counter.statements / decisions, 2),
        "statement_wait_ms_per_decision": round(bench.counter.seconds * 1000 / decisions, 3),
        "tenant_row_held_ms_p50": ms(percentile(holds, 50)) if holds else None,
        "costliest_statements": bench.counter.costliest(decisions, top),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("router", "json", args.log_level)
    mails = corpus(ROOT / "bench" / "out", args.count, args.seed)
    database = IsolatedDatabase()
    database_url = await database.create()
    engine = make_engine(database_url, pool_size=args.concurrency + 1)
    numbers_engine = make_counter_engine(database_url)
    take_number = TicketNumbers(numbers_engine) if args.numbers == "own" else take_ticket_number
    counter = StatementCounter()
    counter.attach(engine)
    sessions = make_sessions(engine)
    rounds: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="postdesk-bench-growth-") as blob_dir:
            settings = RouterSettings(blob_dir=Path(blob_dir))
            blobs = make_blob_store(settings)
            tokens = ThreadTokens.from_keyring(settings.keyring())
            templates = await parse_corpus(mails, blobs)
            bench = Bench(engine, sessions, blobs, tokens, templates, counter, take_number)
            seeded = await seed_tenant(sessions, "growth", args.strategy)
            for round_number in range(args.rounds):
                tickets = (await tenant_figures(sessions, [seeded.tenant_id]))["tickets_created"]
                row = await growth_round(
                    bench, seeded.address, round_number, args.concurrency, args.top_statements
                )
                rounds.append({"tickets_before": tickets, **row})
                print(
                    f"round {round_number:3d}  tickets before {tickets:7d}  "
                    f"{row['decisions_per_s']:7.1f}/s  p50 {row['p50_ms']:7.2f} ms  "
                    f"p99 {row['p99_ms']:8.2f} ms  SQL wait {row['statement_wait_ms_per_decision']:7.2f}"
                    f" ms/decision",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        await numbers_engine.dispose()
        await engine.dispose()
        await database.drop()
    return {
        "messages": len(mails),
        "concurrency": args.concurrency,
        "numbers": args.numbers,
        "strategy": args.strategy,
        "rounds": rounds,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None, help="corpus seed")
    parser.add_argument(
        "--numbers",
        choices=("own", "inside"),
        default="own",
        help="ticket numbers in a transaction of their own (the service) or inside routing",
    )
    parser.add_argument(
        "--strategy",
        default="primary",
        help="the department's routing strategy (the demo tenant's: primary; round_robin and "
        "least_open lock the department row until commit)",
    )
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--top-statements", type=int, default=6)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
