"""Many faults in one run: services killed, the broker and the database restarted, one after
another at seeded moments, while a source offers mail at a steady rate.

`run_storm` drives it on a `FaultStack` whose broker node and database
cluster are private (`private_rabbitmq`, `private_postgres`), so both can
be stopped. Faults come one at a time: each waits until every service is
ready again before the seeded pause that leads to the next, so each one
strikes a running pipeline with mail in flight, as in production, and none
hides behind another. The source retries what is refused or cut off (as a
real one does); the invariant is judged once the last fault is over.

The sized-down run is `test_fault_storm.py`; the full-size one is
`bench/fault_storm.py`, its results in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from tests.faults.invariant import Expectations, Report, sink_answers
from tests.faults.outage import Answers, routed, wait_readiness
from tests.faults.private_postgres import PrivatePostgres
from tests.faults.private_rabbitmq import PrivateRabbit
from tests.faults.stack import PIPELINE, FaultStack

RABBITMQ = "rabbitmq"
POSTGRES = "postgres"
# a kill of each service is as likely as any other; an outage of the broker or the
# database as likely as a kill of one service
KINDS = (*PIPELINE, RABBITMQ, POSTGRES)


@dataclass(frozen=True)
class StormPlan:
    mails: int
    rate: float  # mails offered per second
    seed: int
    in_flight: int = 8
    gap: tuple[float, float] = (1.0, 4.0)  # seconds from one recovery to the next fault
    down: tuple[float, float] = (0.2, 4.0)  # seconds a service, the broker or the database is down
    kinds: Sequence[str] = KINDS  # drawn from at random while mail is offered
    # or these, in this order; then mail is offered until the last of them is over (at most
    # `mails`), and the run ends there
    sequence: Sequence[str] = ()
    burst: int = 1  # mails offered together, every burst / rate seconds
    # before a fault, wait (at most `pipeline_wait` s) until this many accepted mails are not
    # on a ticket yet, so that it strikes mail in flight
    in_pipeline: int = 0
    pipeline_wait: float = 10.0
    settle_within: float = 300.0
    ready_within: float = 90.0


@dataclass(frozen=True)
class Fault:
    kind: str  # a service's name (kill -9), "rabbitmq" or "postgres" (stopped and started)
    at: float  # seconds from the start of the run
    down: float  # seconds from the stop to the start
    recovered_after: float  # from the start until every service was ready again
    accepted_before: int
    routed_before: int  # of those, on a ticket: the rest was in the pipeline when it struck
    exit_status: int | None = None  # a killed service's


@dataclass
class StormResult:
    plan: StormPlan
    faults: list[Fault] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # webhook answers; "broken": cut off
    offered: int = 0
    feed_seconds: float = 0.0
    settle_seconds: float = 0.0
    report: Report | None = None
    answers_at_sink: int = 0
    resent_copies: int = 0  # a second copy of an answer under its Message-ID (ADR 0009)

    @property
    def holds(self) -> bool:
        return self.report is not None and self.report.holds

    def summary(self) -> dict[str, object]:
        kinds = Counter(fault.kind for fault in self.faults)
        ahead = sorted(fault.accepted_before - fault.routed_before for fault in self.faults)
        in_pipeline = (
            {"min": ahead[0], "median": ahead[len(ahead) // 2], "max": ahead[-1]} if ahead else {}
        )
        return {
            "offered": self.offered,
            "rate": self.plan.rate,
            "seed": self.plan.seed,
            "accepted": self.report.accepted if self.report else 0,
            "answers_requested": self.report.answers_requested if self.report else 0,
            "answers_at_sink": self.answers_at_sink,
            "resent_copies": self.resent_copies,
            "faults": dict(sorted(kinds.items())),
            "down_seconds": round(sum(fault.down for fault in self.faults), 1),
            "slowest_recovery_seconds": round(
                max((fault.recovered_after for fault in self.faults), default=0.0), 1
            ),
            "in_pipeline_at_faults": in_pipeline,
            "webhook_answers": dict(sorted(self.answers.items())),
            "feed_seconds": round(self.feed_seconds, 1),
            "settle_seconds": round(self.settle_seconds, 1),
            "invariant": str(self.report),
        }


async def run_storm(
    stack: FaultStack,
    mails: Sequence[bytes],
    plan: StormPlan,
    *,
    rabbit: PrivateRabbit,
    cluster: PrivatePostgres,
    progress: Callable[[str], None] = lambda line: None,
) -> StormResult:
    """Offer `mails` at `plan.rate` while faults strike one after another; once every mail
    offered is accepted and the last fault is over, wait until the invariant holds (or
    `plan.settle_within` runs out) and return what happened."""
    result = StormResult(plan)
    rng = random.Random(plan.seed)
    await stack.start()
    started = time.monotonic()
    answers = Answers()
    limit = asyncio.Semaphore(plan.in_flight)
    fed, struck = asyncio.Event(), asyncio.Event()

    async def deliver(client: httpx.AsyncClient, raw: bytes) -> None:
        async with limit:
            await stack.post_until_accepted(
                client, raw, within=plan.settle_within, broken=result.answers
            )

    async def feed() -> None:
        async with httpx.AsyncClient(timeout=30, event_hooks=answers.hooks) as client:
            deliveries = []
            for number, raw in enumerate(mails):
                slot = started + (number // plan.burst) * plan.burst / plan.rate
                await asyncio.sleep(max(0.0, slot - time.monotonic()))
                if plan.sequence and struck.is_set():
                    break
                deliveries.append(asyncio.create_task(deliver(client, raw)))
            result.offered = len(deliveries)
            await asyncio.gather(*deliveries)
        result.feed_seconds = time.monotonic() - started
        fed.set()

    async def mail_in_pipeline() -> None:
        deadline = time.monotonic() + plan.pipeline_wait
        while time.monotonic() < deadline:
            if len(stack.accepted) - await routed(stack) >= plan.in_pipeline:
                return
            await asyncio.sleep(0.05)

    async def strike() -> None:
        ahead = list(plan.sequence)
        while ahead or (not plan.sequence and not fed.is_set()):
            await asyncio.sleep(rng.uniform(*plan.gap))
            if not plan.sequence and fed.is_set():
                return
            kind = ahead.pop(0) if plan.sequence else rng.choice(plan.kinds)
            down = rng.uniform(*plan.down)
            await mail_in_pipeline()
            fault = await one_fault(stack, kind, down)
            result.faults.append(fault)
            progress(
                f"{fault.at:7.1f} s  {fault.kind:<9} down {fault.down:4.1f} s, all ready "
                f"{fault.recovered_after:4.1f} s later; {fault.accepted_before} accepted, "
                f"{fault.accepted_before - fault.routed_before} of them in the pipeline"
            )

    async def one_fault(stack: FaultStack, kind: str, down: float) -> Fault:
        at, accepted = time.monotonic() - started, len(stack.accepted)
        in_tickets = await routed(stack)
        stopping = time.monotonic()
        exit_status = None
        if kind == RABBITMQ:
            await asyncio.to_thread(rabbit.stop_app)
        elif kind == POSTGRES:
            await asyncio.to_thread(cluster.stop, "fast")
        else:
            exit_status = await asyncio.to_thread(stack.kill, kind)
        await asyncio.sleep(max(0.0, down - (time.monotonic() - stopping)))
        starting = time.monotonic()
        if kind == RABBITMQ:
            await asyncio.to_thread(rabbit.start_app)
        elif kind == POSTGRES:
            await asyncio.to_thread(cluster.start)
            await stack.engine.dispose()  # the run's own pool holds the sessions cut
        else:
            await stack.start(kind, ready_within=plan.ready_within)
        await wait_readiness(stack, PIPELINE, 200, within=plan.ready_within)
        return Fault(
            kind,
            at,
            starting - stopping,
            time.monotonic() - starting,
            accepted,
            in_tickets,
            exit_status,
        )

    async def strike_then_stop_feeding() -> None:
        await strike()
        struck.set()

    await asyncio.gather(feed(), strike_then_stop_feeding())
    result.answers.update(str(status) for _, _, status in answers.answered)
    settling = time.monotonic()
    # outbound cut off between the SMTP server's 250 and its commit sends that answer again
    # under the same Message-ID once its claim expires: the trade ADR 0009 documents
    killed_outbound = any(fault.kind in ("outbound", POSTGRES) for fault in result.faults)
    result.report = await stack.settled(
        Expectations(resent_copies=killed_outbound), within=plan.settle_within, quiet=5
    )
    result.settle_seconds = time.monotonic() - settling
    sent = await asyncio.to_thread(sink_answers, stack.sent_mail)
    result.answers_at_sink = sum(len(ids) for ids in sent.values())
    result.resent_copies = sum(len(ids) - len(set(ids)) for ids in sent.values())
    return result
