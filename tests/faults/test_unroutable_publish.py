"""Scenario 6: a publish no queue is bound for is refused, never silently confirmed and lost.

Only ingest runs. The parser's queue for mail.received is deleted from the
virtual host (an operator's mistake, a broken migration), so RabbitMQ has
nowhere to route the event: it returns the mandatory publish and ingest
must answer 503 and leave the mail unacknowledged (its processing-log row
stays `stored`). With the queue declared again, the source's retry is
accepted, not taken for a duplicate, and the mail goes through the whole
pipeline exactly once.
"""

from __future__ import annotations

from pathlib import Path

import aio_pika
import httpx
import pytest
from postdesk_contracts import EventType
from postdesk_contracts.topology import queue_for
from postdesk_runtime import declare_topology, make_broker
from postdesk_schema.logs import EmailProcessingLog
from sqlalchemy import select
from sqlmodel import col

from tests.faults.stack import FaultStack, corpus

pytestmark = pytest.mark.e2e

PARSER_RECEIVED = queue_for("parser", EventType.MAIL_RECEIVED).name


async def ingest_statuses(stack: FaultStack) -> list[str]:
    async with stack.engine.connect() as conn:
        rows = await conn.scalars(
            select(col(EmailProcessingLog.status)).where(col(EmailProcessingLog.stage) == "ingest")
        )
        return list(rows)


async def test_a_publish_nobody_would_receive_is_refused_and_the_retry_goes_through_once(
    fault_stack: FaultStack, corpus_dir: Path
) -> None:
    raw = corpus(corpus_dir, 40)[1]
    await fault_stack.start("ingest")
    connection = await aio_pika.connect(fault_stack.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(PARSER_RECEIVED)

    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(2):  # refused each time, not taken for a duplicate of the first
            refused = await fault_stack.post(client, raw)
            assert refused.status_code == 503, refused.text
        assert fault_stack.accepted == {}
        assert await ingest_statuses(fault_stack) == ["stored"]

        broker = make_broker(fault_stack.amqp_url)
        await broker.connect()
        try:
            await declare_topology(broker)  # the fix: the queue and its binding are back
        finally:
            await broker.stop()
        accepted = await fault_stack.post(client, raw)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "accepted"
        again = await fault_stack.post(client, raw)
        assert again.json()["status"] == "duplicate"
    assert await ingest_statuses(fault_stack) == ["published"]
    failures = [
        line for line in fault_stack.log.getvalue().splitlines() if "publish failed" in line
    ]
    assert len(failures) == 2, failures
    assert all("NO_ROUTE" in line for line in failures), failures  # the broker's return, not chance

    await fault_stack.start("parser", "router", "notifier", "outbound", "mailsink")
    report = await fault_stack.settled()
    assert report.holds, str(report)
    assert report.accepted == 1
