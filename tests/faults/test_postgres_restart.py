"""Scenario 3: PostgreSQL stopped and started again while mail flows.

The machine's shared PostgreSQL must never go down under other tests, so the
pipeline runs on a private cluster of the test's own
(`tests/faults/private_postgres.py`), on a RabbitMQ virtual host of its own.
Once the source has had a share of the corpus accepted, and while mail is
still ahead of the router, the cluster is stopped (`pg_ctl stop -m fast`:
every session cut mid-transaction) for a few seconds while the source posts
the rest, then started again. The services are not touched.

What must hold:

- every webhook request sent while the database was down is answered 503
  (a temporary refusal the source retries), never 202 and never 500;
- each service's /readyz says the database is failing meanwhile and is
  ready again after the start, the same processes, none restarted;
- every accepted mail goes through once (the invariant), and no event is
  dead-lettered: a delivery that failed on the database went back to its
  queue and was taken again.
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
from tests.faults.private_postgres import PrivatePostgres, private_postgres
from tests.faults.stack import FaultStack, corpus

pytestmark = pytest.mark.e2e

MAILS = 40
IN_FLIGHT = 4
STOP_AFTER = 12  # accepted mails before the database goes down
OUTAGE_SECONDS = 4.0  # from the stop to the start


@pytest.fixture
def private_cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as cluster:
        yield cluster


@pytest_asyncio.fixture(loop_scope="session")
async def fault_stack(
    private_cluster: PrivatePostgres, private_amqp_url: str, tmp_path: Path
) -> AsyncIterator[FaultStack]:
    """The suite's `fault_stack` on the private cluster (so named, the suite's hook attaches
    the services' logs to a failure's report)."""
    database_url = await private_cluster.create_database("postdesk")
    async with outage_stack(database_url, private_amqp_url, tmp_path) as stack:
        yield stack


async def test_postgres_restart_mid_flow_refuses_meanwhile_and_loses_and_doubles_nothing(
    fault_stack: FaultStack, private_cluster: PrivatePostgres, corpus_dir: Path
) -> None:
    mails = corpus(corpus_dir, MAILS)
    await fault_stack.start()
    pids = {name: service.process.pid for name, service in fault_stack.supervisor.processes.items()}
    answers = Answers()
    limit = asyncio.Semaphore(IN_FLIGHT)

    database_down = asyncio.Event()

    async def deliver(number: int, raw: bytes) -> None:
        if number >= STOP_AFTER:  # the rest once the database is down
            await database_down.wait()
        async with limit:
            # fails on any answer but 202 and 503: a 500 while the database is down fails here
            await fault_stack.post_until_accepted(client, raw, within=90)

    async with httpx.AsyncClient(timeout=30, event_hooks=answers.hooks) as client:
        source = asyncio.gather(*(deliver(number, raw) for number, raw in enumerate(mails)))
        outage = await outage_mid_flow(
            fault_stack,
            stop=lambda: private_cluster.stop("fast"),
            start=private_cluster.start,
            after_accepted=STOP_AFTER,
            seconds=OUTAGE_SECONDS,
            down=database_down,
        )
        await source
    await fault_stack.engine.dispose()  # the test's own pool still holds the sessions cut
    assert len(fault_stack.accepted) == MAILS

    assert_refused_and_recovered(
        fault_stack, outage, answers, pids, peer="database", check="database"
    )

    # outbound cut off between the SMTP server's 250 and its commit sends that answer again
    # under the same Message-ID once its claim expires: the trade ADR 0009 documents
    report = await fault_stack.settled(Expectations(resent_copies=True), within=30)
    assert report.holds, str(report)
    assert report.answers_requested > 0
