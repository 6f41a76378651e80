"""What the outage scenarios (a dependency stopped and started mid-flow) watch and assert.

`outage_mid_flow` stops the dependency once the source has had a share of
the mail accepted, waits until every service's /readyz reports it, starts
it again after a while and waits until every service is ready again.
`Answers` records every webhook answer the source got with when it was sent
and answered, so a scenario can ask what was answered meanwhile.
`outage_stack` is the suite's `fault_stack` on given servers (a private
database cluster or broker node).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from postdesk_runtime.db import make_engine
from postdesk_schema import TicketHistory
from postdesk_testing import eventually
from sqlalchemy import func, select
from sqlmodel import col

from tests.faults.stack import PIPELINE, FaultStack, make_supervisor, prepare_tenant


@dataclass
class Answers:
    """Every webhook answer: (sent at, answered at, status), on the monotonic clock. Pass
    `hooks` as an httpx client's `event_hooks`."""

    sent: dict[int, float] = field(default_factory=dict)
    answered: list[tuple[float, float, int]] = field(default_factory=list)

    async def on_request(self, request: httpx.Request) -> None:
        self.sent[id(request)] = time.monotonic()

    async def on_response(self, response: httpx.Response) -> None:
        sent = self.sent.pop(id(response.request), time.monotonic())
        self.answered.append((sent, time.monotonic(), response.status_code))

    @property
    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.on_request], "response": [self.on_response]}

    def within(self, start: float, end: float) -> list[int]:
        """The statuses of the requests sent after `start` and answered before `end`."""
        return [status for sent, done, status in self.answered if start < sent and done < end]


async def wait_readiness(
    stack: FaultStack, names: Iterable[str], status: int, *, within: float
) -> dict[str, dict[str, Any]]:
    """Poll /readyz of each of `names` until each has answered `status` once; those answers."""
    seen: dict[str, dict[str, Any]] = {}
    waiting = set(names)
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=10) as client:
        while waiting:
            for name in sorted(waiting):
                url = f"http://127.0.0.1:{stack.supervisor.ports[name]}/readyz"
                answer = await client.get(url)
                if answer.status_code == status:
                    seen[name] = answer.json()
                    waiting.discard(name)
            assert time.monotonic() < deadline, f"/readyz not {status} within {within} s: {waiting}"
            await asyncio.sleep(0.1)
    return seen


@asynccontextmanager
async def outage_stack(
    database_url: str, amqp_url: str, tmp_path: Path
) -> AsyncIterator[FaultStack]:
    """A `FaultStack` on these servers; nothing started yet; everything stopped on exit."""
    log = io.StringIO()
    blob_dir = tmp_path / "blobs"
    engine = make_engine(database_url, pool_size=2)
    supervisor, smtp_port = make_supervisor(database_url, amqp_url, blob_dir, log)
    try:
        tenant_id = await prepare_tenant(engine, smtp_port)
        yield FaultStack(database_url, amqp_url, blob_dir, engine, tenant_id, supervisor, log)
    finally:
        await asyncio.to_thread(supervisor.stop_all, 15)
        await engine.dispose()


@dataclass
class Outage:
    accepted_at_stop: int
    routed_at_stop: int  # of those, on a ticket already: the rest was still in the pipeline
    down_from: float  # the stop has completed (monotonic clock)
    up_from: float  # the start begins
    not_ready: dict[str, dict[str, Any]]  # a /readyz answer of each service meanwhile
    ready_after: float  # seconds from the start until every service was ready again

    @property
    def seconds(self) -> float:
        return self.up_from - self.down_from


async def routed(stack: FaultStack) -> int:
    """Mails the router has put on a ticket so far."""
    async with stack.engine.connect() as conn:
        matched = (
            select(func.count())
            .select_from(TicketHistory)
            .where(col(TicketHistory.kind) == "matched")
        )
        return int(await conn.scalar(matched) or 0)


async def outage_mid_flow(
    stack: FaultStack,
    *,
    stop: Callable[[], object],
    start: Callable[[], object],
    after_accepted: int,
    seconds: float,
    ready_within: float = 45,
    down: asyncio.Event | None = None,
) -> Outage:
    """Once `after_accepted` mails are accepted: `stop()` (blocking, run in a thread), set
    `down`, see every service's /readyz answer 503, `start()` `seconds` after the stop
    began, and wait until every service answers 200 again."""

    async def enough_accepted() -> bool | None:
        return True if len(stack.accepted) >= after_accepted else None

    await eventually(enough_accepted, within=60, interval=0.02)
    accepted_at_stop, routed_at_stop = len(stack.accepted), await routed(stack)
    stopping = time.monotonic()
    await asyncio.to_thread(stop)
    down_from = time.monotonic()
    if down is not None:
        down.set()
    not_ready = await wait_readiness(stack, PIPELINE, 503, within=20)
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - stopping)))
    up_from = time.monotonic()
    await asyncio.to_thread(start)
    await wait_readiness(stack, PIPELINE, 200, within=ready_within)
    ready_after = time.monotonic() - up_from
    return Outage(accepted_at_stop, routed_at_stop, down_from, up_from, not_ready, ready_after)


def assert_refused_and_recovered(
    stack: FaultStack,
    outage: Outage,
    answers: Answers,
    pids: dict[str, int],
    *,
    peer: str,
    check: str,
) -> None:
    """While `peer` was down every webhook answer was 503, each service's /readyz named the
    failing `check`, and the same processes (none restarted) carried on; prints the figures."""
    assert outage.routed_at_stop < outage.accepted_at_stop, "the router had no mail ahead of it"
    during = answers.within(outage.down_from, outage.up_from)
    assert during, f"no webhook request was answered while the {peer} was down"
    assert set(during) == {503}, f"answered while the {peer} was down: {sorted(set(during))}"
    for name, body in outage.not_ready.items():
        assert body["checks"][check] == "failing", (name, body)
    for name, pid in pids.items():
        process = stack.supervisor.processes[name].process
        assert (process.pid, process.poll()) == (pid, None), f"{name} was restarted or died"
    print(
        f"{peer} down {outage.seconds:.1f} s with "
        f"{outage.accepted_at_stop - outage.routed_at_stop} mails ahead of the router; "
        f"{len(during)} webhook requests refused meanwhile; every service ready "
        f"{outage.ready_after:.1f} s after the start"
    )
