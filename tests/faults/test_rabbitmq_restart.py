"""Scenario 2: RabbitMQ stopped and started again while mail flows.

The machine's shared RabbitMQ must never go down under other tests, so the
pipeline runs on a private node of the test's own
(`tests/faults/private_rabbitmq.py`), with a database of its own on the
shared PostgreSQL. Once the source has had a share of the corpus accepted,
and while mail is still ahead of the router, the broker is stopped
(`rabbitmqctl stop_app`: every connection closed, deliveries in hand
unacknowledged) for a few seconds while the source posts the rest, then
started again. The services are not touched.

What must hold:

- every webhook request sent while the broker was down is answered 503
  (ingest could not get the publish confirmed), never 202 and never 500;
- each service's /readyz says the broker is failing meanwhile and is ready
  again after the start (the services reconnect by themselves), the same
  processes, none restarted;
- every accepted mail goes through once (the invariant), with no dead letter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.faults.invariant import Expectations
from tests.faults.outage import (
    Answers,
    assert_refused_and_recovered,
    outage_mid_flow,
    outage_stack,
)
from tests.faults.private_rabbitmq import PrivateRabbit, private_rabbitmq
from tests.faults.stack import FaultStack, corpus

pytestmark = pytest.mark.e2e

MAILS = 40
IN_FLIGHT = 4
STOP_AFTER = 12  # accepted mails before the broker goes down
OUTAGE_SECONDS = 6.0  # from the stop to the start
PUBLISH_TIMEOUT = 2.0


@pytest.fixture
def private_node() -> Iterator[PrivateRabbit]:
    with private_rabbitmq() as node:
        yield node


@pytest_asyncio.fixture(loop_scope="session")
async def fault_stack(
    private_node: PrivateRabbit, private_database_url: str, tmp_path: Path
) -> AsyncIterator[FaultStack]:
    """The suite's `fault_stack` on the private node (so named, the suite's hook attaches the
    services' logs to a failure's report)."""
    async with outage_stack(private_database_url, private_node.url, tmp_path) as stack:
        yield stack


async def test_rabbitmq_restart_mid_flow_refuses_meanwhile_and_loses_and_doubles_nothing(
    fault_stack: FaultStack, private_node: PrivateRabbit, corpus_dir: Path
) -> None:
    mails = corpus(corpus_dir, MAILS)
    # ingest waits this long for a confirm (default 10 s, while the broker connection is
    # re-established every 5 s): shorter than the outage, so the source hears its refusals
    fault_stack.supervisor.start("ingest", INGEST_PUBLISH_TIMEOUT_SECONDS=str(PUBLISH_TIMEOUT))
    await fault_stack.start("parser", "router", "notifier", "outbound", "mailsink")
    pids = {name: service.process.pid for name, service in fault_stack.supervisor.processes.items()}
    answers = Answers()
    limit = asyncio.Semaphore(IN_FLIGHT)

    broker_down = asyncio.Event()

    async def deliver(number: int, raw: bytes) -> None:
        if number >= STOP_AFTER:  # the rest once the broker is down (it stops in seconds)
            await broker_down.wait()
        async with limit:
            # fails on any answer but 202 and 503: a 500 while the broker is down fails here
            await fault_stack.post_until_accepted(client, raw, within=90)

    async with httpx.AsyncClient(timeout=30, event_hooks=answers.hooks) as client:
        source = asyncio.gather(*(deliver(number, raw) for number, raw in enumerate(mails)))
        outage = await outage_mid_flow(
            fault_stack,
            stop=private_node.stop_app,
            start=private_node.start_app,
            after_accepted=STOP_AFTER,
            seconds=OUTAGE_SECONDS,
            down=broker_down,
        )
        await source
    assert len(fault_stack.accepted) == MAILS

    assert_refused_and_recovered(fault_stack, outage, answers, pids, peer="broker", check="broker")

    report = await fault_stack.settled(Expectations(), within=30)
    assert report.holds, str(report)
    assert report.answers_requested > 0
