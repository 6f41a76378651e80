"""`postdesk dlq`: messages RabbitMQ really dead-lettered, read, replayed and discarded.

Each test has a virtual host of its own, so the dead-letter queues hold only
its messages.
"""

from __future__ import annotations

import argparse
import io
import json
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from postdesk_cli.demo import address, seed_demo
from postdesk_cli.dlq import _run
from postdesk_contracts import Address, EventType, MailParsed, new_envelope
from postdesk_contracts.topology import queue_for
from postdesk_router.main import create_app
from postdesk_router.settings import RouterSettings
from postdesk_runtime import (
    EventPublisher,
    LocalBlobStore,
    declare_topology,
    make_blob_store,
    make_broker,
    make_engine,
    make_sessions,
)
from postdesk_schema import Ticket
from postdesk_testing import eventually, run_postdesk
from sqlalchemy import select
from sqlmodel import col

pytestmark = pytest.mark.integration

ROUTER_PARSED = queue_for("router", EventType.MAIL_PARSED)


def parsed_event(tenant: uuid.UUID | None = None, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "raw_blob_ref": "sha256:" + "1" * 64,
        "sha256": "1" * 64,
        "body_blob_ref": "sha256:" + "2" * 64,
        "message_id": f"{uuid.uuid4().hex}@customer.example",
        "subject": "Printer on fire",
        "from_": Address(name="Carol Customer", email="carol@customer.example"),
        "to": [Address(email="cs@acme.example")],
        "received_at": "2026-11-26T08:00:00Z",
    } | overrides
    return new_envelope(EventType.MAIL_PARSED, MailParsed(**fields), tenant_id=tenant)


async def publish(amqp_url: str, *events: Any) -> None:
    broker = make_broker(amqp_url)
    await broker.connect()
    try:
        await declare_topology(broker)
        for event in events:
            await EventPublisher(broker).publish(event)
    finally:
        await broker.stop()


async def reject_all(amqp_url: str, queue_name: str, want: int) -> list[str]:
    """Take `want` messages from `queue_name` and reject them: RabbitMQ dead-letters them."""
    ids: list[str] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=False)
        while len(ids) < want:
            message = await queue.get(no_ack=False, fail=False, timeout=5)
            if message is None:
                continue
            ids.append(str(message.message_id))
            await message.reject(requeue=False)
    return ids


async def queue_messages(amqp_url: str, queue_name: str) -> list[aio_pika.abc.AbstractMessage]:
    """Every message in `queue_name`, taken out of it."""
    connection = await aio_pika.connect(amqp_url)
    got: list[aio_pika.abc.AbstractMessage] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=False)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            got.append(message)
    return got


async def dlq(amqp_url: str, *argv: str) -> tuple[int, str]:
    """Run one `postdesk dlq ...` in this process; (exit status, output)."""
    from postdesk_cli.main import parser

    args: argparse.Namespace = parser().parse_args(["dlq", *argv])
    out = io.StringIO()
    status = await _run(args, amqp_url, out)
    return status, out.getvalue()


async def test_show_reads_without_losing_replay_and_discard_move(private_amqp_url: str) -> None:
    """Three rejected events: list and show them (twice: nothing lost, order kept), replay one
    into its consumer queue only, discard another tenant's, and report ids it did not find."""
    url = private_amqp_url
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    events = [parsed_event(tenant_a), parsed_event(tenant_a), parsed_event(tenant_b)]
    await publish(url, *events)
    dead = await reject_all(url, ROUTER_PARSED.name, 3)
    assert dead == [str(e.id) for e in events]

    status, listing = await dlq(url, "list")
    assert status == 0
    counts = dict(line.split() for line in listing.splitlines())
    assert counts[ROUTER_PARSED.dead_letter_name] == "3"
    assert counts["total"] == "3"

    for _ in range(2):
        status, shown = await dlq(url, "show", ROUTER_PARSED.name, "--json", "--body")
        records = [json.loads(line) for line in shown.splitlines()]
        assert [r["event_id"] for r in records] == dead
        assert {r["reason"] for r in records} == {"rejected"}
        assert records[0]["tenant_id"] == str(tenant_a)
        assert records[0]["type"] == "mail.parsed"
        assert records[0]["event"]["payload"]["subject"] == "Printer on fire"
        assert records[0]["deaths"] == 1
        assert records[0]["dead_lettered_at"]

    status, limited = await dlq(url, "show", ROUTER_PARSED.dead_letter_name, "--limit", "1")
    assert limited.splitlines()[0] == "# 3 waiting, showing the first 1"
    assert dead[0] in limited.splitlines()[1]
    assert "rejected" in limited

    status, replayed = await dlq(url, "replay", ROUTER_PARSED.name, "--id", dead[1])
    assert status == 0
    assert "1 replayed, 0 discarded, 2 kept" in replayed
    back = await queue_messages(url, ROUTER_PARSED.name)
    assert [m.message_id for m in back] == [dead[1]]
    assert back[0].body == events[1].model_dump_json(by_alias=True).encode()
    assert back[0].headers is not None
    assert back[0].headers["x-postdesk-replays"] == 1
    assert "x-death" not in back[0].headers
    assert await queue_messages(url, queue_for("notifier", EventType.TICKET_CREATED).name) == []

    status, discarded = await dlq(url, "discard", ROUTER_PARSED.name, "--tenant", str(tenant_b))
    assert status == 0
    assert "0 replayed, 1 discarded, 1 kept" in discarded
    assert json.loads(discarded.splitlines()[0])["event_id"] == dead[2]

    missing = str(uuid.uuid4())
    status, output = await dlq(url, "replay", ROUTER_PARSED.name, "--id", missing)
    assert status == 1
    assert f"not found in {ROUTER_PARSED.dead_letter_name}: {missing}" in output
    status, shown = await dlq(url, "show", ROUTER_PARSED.name, "--json")
    assert [json.loads(line)["event_id"] for line in shown.splitlines()] == [dead[0]]


async def test_unknown_queue_is_a_clear_error(private_amqp_url: str) -> None:
    with pytest.raises(LookupError, match=r"no queue 'router\.nothing'; the queues are: "):
        await dlq(private_amqp_url, "show", "router.nothing")


async def test_poison_message_dead_lettered_by_the_router_is_replayed_after_the_fix(
    private_database_url: str, private_amqp_url: str, tmp_path: Path
) -> None:
    """The router cannot read a mail's body (its blob is missing): RabbitMQ dead-letters the
    event after its delivery limit. Once the blob is back, `postdesk dlq replay` (the real
    command) makes the ticket, once."""
    blob_dir = tmp_path / "blobs"
    engine = make_engine(private_database_url, pool_size=2)
    sessions = make_sessions(engine)
    await seed_demo(sessions)
    settings = RouterSettings(
        amqp_url=private_amqp_url, database_url=private_database_url, blob_dir=blob_dir
    )
    body_ref = await make_blob_store(settings).put(
        json.dumps({"text": "It is on fire.", "html": None}).encode()
    )
    body_file = LocalBlobStore(blob_dir).path_of(body_ref)
    hidden = body_file.with_suffix(".hidden")
    body_file.rename(hidden)
    cs = address("cs")
    event = parsed_event(body_blob_ref=body_ref, envelope_recipients=[cs], to=[Address(email=cs)])
    env = {"AMQP_URL": private_amqp_url, "DATABASE_URL": private_database_url}

    async def postdesk(*argv: str) -> str:
        ran = await run_postdesk(*argv, env=env)
        assert ran.status == 0, ran.stderr
        return ran.stdout

    async def tickets() -> list[Ticket]:
        async with sessions() as session:
            found = await session.scalars(
                select(Ticket).where(col(Ticket.subject) == "Printer on fire")
            )
            return list(found)

    app = create_app(settings)
    try:
        async with app.start_lifespan_context():
            await publish(private_amqp_url, event)

            async def dead_lettered() -> str | None:
                shown = await postdesk("dlq", "show", ROUTER_PARSED.name, "--json")
                return shown or None

            record = json.loads(await eventually(dead_lettered, within=30, interval=0.5))
            assert record["event_id"] == str(event.id)
            assert record["reason"] == "delivery_limit"
            assert await tickets() == []

            hidden.rename(body_file)
            output = await postdesk("dlq", "replay", ROUTER_PARSED.name, "--all")
            assert "1 replayed, 0 discarded, 0 kept" in output

            async def routed() -> list[Ticket] | None:
                return found if (found := await tickets()) else None

            assert len(await eventually(routed, within=30)) == 1
            counts = dict(line.split() for line in (await postdesk("dlq", "list")).splitlines())
            assert counts["total"] == "0"
    finally:
        await engine.dispose()
