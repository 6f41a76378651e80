"""Scenario 8: the same webhook delivered 50 times at once is one message on one ticket."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.faults.stack import FaultStack, corpus

pytestmark = pytest.mark.e2e

DELIVERIES = 50


async def test_fifty_concurrent_deliveries_of_one_mail_make_one_message(
    fault_stack: FaultStack, corpus_dir: Path
) -> None:
    await fault_stack.start()
    raw = corpus(corpus_dir, 40)[0]
    limits = httpx.Limits(max_connections=DELIVERIES, max_keepalive_connections=DELIVERIES)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        responses = await asyncio.gather(
            *(fault_stack.post(client, raw) for _ in range(DELIVERIES))
        )
    assert [r.status_code for r in responses] == [202] * DELIVERIES, [r.text for r in responses]
    statuses = Counter(r.json()["status"] for r in responses)
    assert statuses["accepted"] >= 1, statuses
    assert len({r.json()["event_id"] for r in responses}) == 1  # one event id, however many
    assert len(fault_stack.accepted) == 1

    report = await fault_stack.settled()
    assert report.holds, str(report)
    print(dict(statuses))  # how the deliveries were answered, for `pytest -s`
