"""Scenario 5: a poison message is dead-lettered after the delivery limit, with its reason; the
rest keeps flowing; `postdesk dlq replay` puts it through once the fault is fixed.

The poison is a real one, made without touching any code: the parser has
parsed every mail (the router is not running yet), then the body blob of
one mail.parsed event is moved away, so the router cannot read it. Started,
the router fails on that event each time RabbitMQ delivers it until the
quorum queue's delivery limit moves it to `router.mail.parsed.dlq`; every
other mail becomes a ticket meanwhile. The blob is put back, the operator
replays the dead letter with the real command, and the invariant holds for
every mail, the poisoned one counted once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from postdesk_contracts import EventType
from postdesk_contracts.topology import queue_for
from postdesk_runtime import LocalBlobStore
from postdesk_testing import drain, eventually, tap

from tests.faults.invariant import Expectations, bare_message_id
from tests.faults.stack import FaultStack, corpus

pytestmark = pytest.mark.e2e

MAILS = 12
SEED = 20261126
ROUTER_PARSED = queue_for("router", EventType.MAIL_PARSED).name


async def postdesk(stack: FaultStack, *argv: str) -> str:
    """The real `postdesk` command in a process of its own; its output."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "postdesk"),
        *argv,
        env=os.environ | {"AMQP_URL": stack.amqp_url, "DATABASE_URL": stack.database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_poison_is_dead_lettered_the_rest_flows_and_replay_delivers_it_once(
    fault_stack: FaultStack, corpus_dir: Path
) -> None:
    mails = corpus(corpus_dir, MAILS)
    await fault_stack.start("ingest", "parser", "notifier", "outbound", "mailsink")
    async with tap(fault_stack.amqp_url, EventType.MAIL_PARSED.value) as parsed_queue:
        async with httpx.AsyncClient(timeout=30) as client:
            for raw in mails:
                await fault_stack.post_until_accepted(client, raw)
        parsed: list[dict[str, Any]] = []

        async def all_parsed() -> list[dict[str, Any]] | None:
            parsed.extend(json.loads(m.body)["payload"] for m in await drain(parsed_queue))
            return parsed if len(parsed) >= MAILS else None

        await eventually(all_parsed, within=30, interval=0.2)
    assert len(parsed) == MAILS

    poison = random.Random(SEED).choice(parsed)
    body_ref = poison["body_blob_ref"]
    assert [p["body_blob_ref"] for p in parsed].count(body_ref) == 1, "the body is the poison's own"
    body = LocalBlobStore(fault_stack.blob_dir).path_of(body_ref)
    hidden = body.with_suffix(".hidden")
    body.rename(hidden)
    poisoned = [
        m
        for m in fault_stack.accepted.values()
        if bare_message_id(m.message_id) == poison["message_id"]
    ]
    assert len(poisoned) == 1
    healthy = [m for m in fault_stack.accepted.values() if m not in poisoned]

    await fault_stack.start("router")
    report = await fault_stack.settled(Expectations(dead_letters={ROUTER_PARSED: 1}), healthy)
    assert report.holds, str(report)
    assert (await fault_stack.check(mails=poisoned)).rules() >= {"missing"}

    [letter] = [
        json.loads(line)
        for line in (
            await postdesk(fault_stack, "dlq", "show", ROUTER_PARSED, "--json", "--body")
        ).splitlines()
    ]
    assert letter["reason"] == "delivery_limit"
    assert letter["deaths"] >= 1
    assert letter["event"]["payload"]["message_id"] == poison["message_id"]

    hidden.rename(body)  # the fix
    replayed = await postdesk(
        fault_stack, "dlq", "replay", ROUTER_PARSED, "--id", letter["event_id"]
    )
    assert "1 replayed, 0 discarded, 0 kept" in replayed

    report = await fault_stack.settled()  # every mail, the poisoned one included; no dead letter
    assert report.holds, str(report)
    assert report.accepted == MAILS
