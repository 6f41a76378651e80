"""Scenario 1: kill -9 of one service at a random (seeded) moment while mail flows; restarted,
every accepted mail is one message on one ticket, assigned, notified and answered once.

The source posts the corpus through the webhook, a few mails at a time, and
retries what is refused or cut off (as a real one does). The moment is
taken in the victim's own progress: once it has finished a seeded number of
mails (ingest: accepted; parser and router: their processing-log rows; the
notifier: its notifications; outbound: the auto-replies it sent), plus a seeded fraction of a second, its
process group gets SIGKILL: no graceful stop, unacknowledged deliveries go
back to their queues, in-flight HTTP requests break. After a seeded pause
it is started again. The test also asserts the kill came while the victim
still had mail ahead of it, or it would prove nothing.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from pathlib import Path

import httpx
import pytest
from postdesk_schema import Notification, OutboundMessage
from postdesk_schema.logs import EmailProcessingLog
from postdesk_testing import eventually
from sqlalchemy import func, select
from sqlmodel import col

from tests.faults.invariant import Expectations
from tests.faults.stack import FaultStack, corpus

pytestmark = pytest.mark.e2e

MAILS = 40
IN_FLIGHT = 4
SEED = 20261126


async def done_by(stack: FaultStack, service: str) -> int:
    """How many mails `service` has finished so far."""
    if service == "ingest":
        return len(stack.accepted)
    async with stack.engine.connect() as conn:
        if service == "notifier":
            query = select(func.count()).select_from(Notification)
        elif service == "outbound":
            query = (
                select(func.count())
                .select_from(OutboundMessage)
                .where(col(OutboundMessage.status) == "sent")
            )
        else:
            query = (
                select(func.count())
                .select_from(EmailProcessingLog)
                .where(col(EmailProcessingLog.stage) == service)
            )
        return int(await conn.scalar(query) or 0)


async def kill_mid_flow(stack: FaultStack, service: str, rng: random.Random) -> tuple[int, int]:
    """kill -9 `service` once it has done a seeded share of the mails, start it again;
    (mails it had done at the kill, its exit status)."""
    after = rng.randint(2, MAILS // 4)

    async def reached() -> int | None:
        done = await done_by(stack, service)
        return done if done >= after else None

    await eventually(reached, within=45, interval=0.02)
    await asyncio.sleep(rng.uniform(0, 0.2))
    done = await done_by(stack, service)
    status = await asyncio.to_thread(stack.kill, service)
    await asyncio.sleep(rng.uniform(0.2, 1.5))
    await stack.start(service)
    return done, status


@pytest.mark.parametrize("service", ["ingest", "parser", "router", "notifier", "outbound"])
async def test_kill_9_of_a_service_while_mail_flows_loses_and_doubles_nothing(
    fault_stack: FaultStack, corpus_dir: Path, service: str
) -> None:
    rng = random.Random(SEED + zlib.crc32(service.encode()))
    mails = corpus(corpus_dir, MAILS)
    await fault_stack.start()
    fault = asyncio.create_task(kill_mid_flow(fault_stack, service, rng))
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def deliver(raw: bytes) -> None:
        async with limit:
            await fault_stack.post_until_accepted(client, raw)

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(deliver(raw) for raw in mails))
    done_at_kill, status = await fault
    assert status == -9, f"{service} ended with {status}, not by the kill"
    assert done_at_kill < MAILS, f"{service} had done all {MAILS} mails before the kill"
    assert len(fault_stack.accepted) == MAILS
    print(f"killed {service} when it had done {done_at_kill} of {MAILS} mails")

    # outbound killed between the server's 250 and its commit sends that answer again under
    # the same Message-ID: the trade ADR 0009 documents, so copies are allowed there
    expect = Expectations(resent_copies=service == "outbound")
    report = await fault_stack.settled(expect)
    assert report.holds, str(report)
    assert report.answers_requested > 0  # the auto-reply answered mail meanwhile
