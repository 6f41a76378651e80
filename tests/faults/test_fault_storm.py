"""Scenarios 1 to 3 together, sized down: one fault after another (every service killed, the
broker and the database restarted) while mail is offered at a steady rate, on a private
broker node and database cluster; the invariant holds at the end.

The full-size run (more mail, faults drawn at random for minutes) is
`bench/fault_storm.py`; docs/reliability.md keeps its results.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.faults.outage import outage_stack
from tests.faults.private_postgres import PrivatePostgres, private_postgres
from tests.faults.private_rabbitmq import PrivateRabbit, private_rabbitmq
from tests.faults.stack import FaultStack, corpus
from tests.faults.storm import POSTGRES, RABBITMQ, StormPlan, run_storm

pytestmark = pytest.mark.e2e

# the consumers killed while mail is in flight (offered in bursts of 8 every 4 s, and each
# fault waits until 2 accepted mails are not on a ticket yet); mail is offered until the
# last fault is over
SEQUENCE = ("router", RABBITMQ, "parser", "ingest", POSTGRES, "notifier", "outbound")
PLAN = StormPlan(
    mails=400,
    rate=2.0,
    seed=20261126,
    in_flight=4,
    sequence=SEQUENCE,
    burst=8,
    in_pipeline=2,
)


@pytest.fixture
def private_cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as cluster:
        yield cluster


@pytest.fixture
def private_node() -> Iterator[PrivateRabbit]:
    with private_rabbitmq() as rabbit:
        yield rabbit


@pytest_asyncio.fixture(loop_scope="session")
async def fault_stack(
    private_cluster: PrivatePostgres, private_node: PrivateRabbit, tmp_path: Path
) -> AsyncIterator[FaultStack]:
    """The suite's `fault_stack` on both private servers (so named, the suite's hook attaches
    the services' logs to a failure's report)."""
    database_url = await private_cluster.create_database("postdesk")
    async with outage_stack(database_url, private_node.url, tmp_path) as stack:
        yield stack


async def test_one_fault_after_another_loses_and_doubles_nothing(
    fault_stack: FaultStack,
    private_cluster: PrivatePostgres,
    private_node: PrivateRabbit,
    corpus_dir: Path,
) -> None:
    mails = corpus(corpus_dir, PLAN.mails)  # more than the run offers
    result = await run_storm(
        fault_stack, mails, PLAN, rabbit=private_node, cluster=private_cluster, progress=print
    )
    print(result.summary())

    assert [fault.kind for fault in result.faults] == list(SEQUENCE)
    for fault in result.faults[:3]:  # router, broker, parser: mail was between them
        assert fault.routed_before < fault.accepted_before, fault
    killed = [fault for fault in result.faults if fault.kind not in (RABBITMQ, POSTGRES)]
    assert {fault.exit_status for fault in killed} == {-9}
    # the source saw the faults: a killed ingest cut requests off, the outages refused them
    assert result.answers["broken"] > 0
    assert result.answers["503"] > 0
    assert set(result.answers) <= {"202", "503", "broken"}, result.answers
    assert result.report is not None
    assert result.report.accepted == result.offered < PLAN.mails
    assert result.holds, str(result.report)
    assert result.report.answers_requested > 0
