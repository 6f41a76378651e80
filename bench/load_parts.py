"""The parts of bench/load.py that run on the postdesk stack: throughput, latency, soak and
drain. Each takes the running stack, the observer and the mail source, and returns its
figures as a JSON-ready dict (bench/load.py documents what each measures)."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import aio_pika
from load_meters import (
    CpuMeter,
    RssSampler,
    by_name,
    by_pids,
    postdesk_queue_names,
    postgres_backends_of,
    queue_depths,
    rss_mib,
)
from load_report import (
    OWN_BACKENDS,
    cpu_per_mail,
    latency_ms,
    rate,
    slope_per_minute,
    steady_window,
)
from load_stack import MailSource, Observer, Stack, offer


def _meter(stack: Stack) -> CpuMeter:
    return CpuMeter(
        {
            "postdesk": by_pids(lambda: stack.pids().values()),
            "postgres": by_name("postgres"),
            "rabbitmq": by_name("beam.smp"),
            "load generator": by_pids(lambda: [os.getpid()], children=False),
            OWN_BACKENDS: postgres_backends_of(stack.database.name),
        }
    )


async def throughput(
    stack: Stack, observer: Observer, source: MailSource, args: argparse.Namespace
) -> dict[str, Any]:
    mails = list(source.mails("t", args.count))  # made before the clock starts
    with _meter(stack) as meter:
        offered = await offer(stack.webhook_url, iter(mails), concurrency=args.concurrency)
        await observer.wait_for(set(offered.accepted), args.timeout)
    completed = [observer.done[k] for k in offered.accepted if k in observer.done]
    start, end, steady = steady_window(completed)
    return {
        "count": args.count,
        "accepted": len(offered.accepted),
        "duplicates_at_ingest": offered.duplicates,
        "retried_refusals": offered.retries,
        "completed": len(completed),
        "assigned": len(observer.assigned & offered.accepted.keys()),
        "accept_mails_per_s": rate(offered.started, offered.finished, len(offered.accepted)),
        "steady_mails_per_s": rate(start, end, steady),
        "latency_ms": latency_ms(
            [observer.done[k] - t for k, t in offered.accepted.items() if k in observer.done]
        ),
        "cpu": cpu_per_mail(meter, start, end, steady),
    }


async def latency(
    stack: Stack, observer: Observer, source: MailSource, args: argparse.Namespace
) -> dict[str, Any]:
    count = int(args.latency_rate * args.latency_seconds)
    mails = list(source.mails("l", count))
    with _meter(stack) as meter:
        offered = await offer(
            stack.webhook_url, iter(mails), rate=args.latency_rate, concurrency=args.concurrency
        )
        all_done = await observer.wait_for(set(offered.accepted), args.timeout)
    latencies = [observer.done[k] - t for k, t in offered.accepted.items() if k in observer.done]
    accept_rate = rate(offered.started, offered.finished, len(offered.accepted))
    backlog = (
        max(observer.done[k] for k in offered.accepted if k in observer.done) - offered.finished
    )
    kept_up = all_done and accept_rate >= 0.95 * args.latency_rate and backlog < 1.0
    return {
        "offered_rate": args.latency_rate,
        "seconds": args.latency_seconds,
        "accepted": len(offered.accepted),
        "completed": len(latencies),
        "accept_mails_per_s": accept_rate,
        "latency_ms": latency_ms(latencies),
        "kept_up": kept_up,
        "kept_up_detail": (
            f"accepted {accept_rate}/s, last done {backlog:.2f} s after the last accept, "
            f"worst send {offered.max_lag * 1000:.0f} ms late"
        ),
        # from the first offer to the last mail done: every mail's whole cost is inside
        "cpu": cpu_per_mail(meter, offered.started, offered.finished + backlog, len(latencies)),
    }


async def quiet(stack: Stack, within: float) -> None:
    """Wait until no postdesk queue holds a ready message in two looks a second apart, then
    two seconds more for the deliveries in hand: each part starts on an idle pipeline, not
    on the notifications and auto-replies the part before it left queued."""
    names = postdesk_queue_names()
    connection = await aio_pika.connect(stack.amqp_url)
    try:
        deadline = time.monotonic() + within
        empty_looks = 0
        while empty_looks < 2 and time.monotonic() < deadline:
            depths = await queue_depths(connection, names)
            empty_looks = empty_looks + 1 if not any(depths.values()) else 0
            await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)
    finally:
        await connection.close()


async def soak(
    stack: Stack, observer: Observer, source: MailSource, args: argparse.Namespace
) -> dict[str, Any]:
    count = int(args.soak_rate * args.soak_minutes * 60)
    rss: dict[str, list[tuple[float, float]]] = {}
    depth: list[tuple[float, float]] = []
    names = postdesk_queue_names()
    connection = await aio_pika.connect(stack.amqp_url)
    sending = asyncio.create_task(
        offer(
            stack.webhook_url,
            source.mails("s", count),
            rate=args.soak_rate,
            concurrency=args.concurrency,
        )
    )
    began = time.monotonic()
    while not sending.done():
        now = time.monotonic() - began
        for name, pid in stack.pids().items():
            rss.setdefault(name, []).append((now, rss_mib(pid)))
        depth.append((now, float(sum((await queue_depths(connection, names)).values()))))
        await asyncio.wait([sending], timeout=10)
    offered = sending.result()
    await connection.close()
    await observer.wait_for(set(offered.accepted), args.timeout)

    def windows(points: list[tuple[float, float]]) -> dict[str, float]:
        size = max(1, len(points) // 10)
        return {
            "first": round(sum(v for _, v in points[:size]) / size, 1),
            "last": round(sum(v for _, v in points[-size:]) / size, 1),
            "slope_per_min": slope_per_minute(points[size:]),
        }

    memory = {name: windows(points) for name, points in rss.items()}
    queued = windows(depth)
    grown = [
        name for name, w in memory.items() if w["last"] - w["first"] > max(5.0, 0.05 * w["first"])
    ]
    backlog = queued["last"] > queued["first"] + args.soak_rate
    verdict = (
        "flat"
        if not grown and not backlog
        else (
            "NOT flat: "
            + ", ".join([*(f"{n} RSS grew" for n in grown), *(["queues grew"] if backlog else [])])
        )
    )
    return {
        "rate": args.soak_rate,
        "minutes": args.soak_minutes,
        "accepted": len(offered.accepted),
        "completed": len(offered.accepted.keys() & observer.done.keys()),
        "samples": len(depth),
        "rss_mib": memory,
        "depth": queued,
        "verdict": verdict,
    }


async def drain(
    stack: Stack, observer: Observer, source: MailSource, args: argparse.Namespace
) -> dict[str, Any]:
    await stack.stop_consumers()
    offered = await offer(
        stack.webhook_url, source.mails("d", args.drain_count), concurrency=args.concurrency
    )
    started = time.monotonic()
    await stack.start_consumers()
    ready = time.monotonic()
    with RssSampler(stack.pids) as memory:
        all_done = await observer.wait_for(
            set(offered.accepted), args.timeout + args.drain_count / 50
        )
    completed = [observer.done[k] for k in offered.accepted if k in observer.done]
    last = max(completed, default=ready)
    return {
        "queued": len(offered.accepted),
        "completed": len(completed),
        "all_done": all_done,
        "queue_mails_per_s": rate(offered.started, offered.finished, len(offered.accepted)),
        "consumers_start_s": round(ready - started, 1),
        "drain_seconds": round(last - ready, 1),
        "drain_mails_per_s": rate(ready, last, len(completed)),
        "rss_mib": memory.summary(),
    }
