"""The floor of bench/load.py: postdesk's broker hops and database transactions with bare
aio-pika and asyncpg and no logic, so postdesk's throughput has a machine-bound yardstick.

postdesk, from the webhook to ticket.assigned, does three persistent, confirmed
publishes (ingest: mail.received; parser: mail.parsed; router's outbox relay:
ticket.assigned) into quorum queues, and five transactions (ingest: the
"stored" row, then "published"; parser: its processing-log row; router: the
routing transaction, then the relay marking its outbox rows published). The
floor does the same, one process per stage as postdesk runs one per service:

    source  INSERT received row; publish raw mail (persistent, confirmed);
            UPDATE the row published; the mail counts as accepted
    parser  consume; parse with the stdlib email parser (policy compat32 or
            default): subject and first text part; INSERT a row; publish
            mail.parsed (confirmed); ack
    router  consume; INSERT a ticket row; publish ticket.assigned
            (confirmed); UPDATE the row published; ack
    observer (bench/load.py) binds ticket.assigned

It carries the raw mail in the message instead of a blob file, and writes
one row where postdesk writes many: what it leaves out is postdesk's work.

    python bench/load_floor.py STAGE --amqp URL --db URL [--policy compat32|default]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
import uuid
from email import policy as email_policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

import aio_pika
import asyncpg
from aiormq.abc import FieldTable

EXCHANGE = "floor.events"
QUEUES = {"parser": "mail.received", "router": "mail.parsed"}
TABLES = """
CREATE TABLE received (id uuid PRIMARY KEY, size int NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE parsed (id uuid PRIMARY KEY, subject text NOT NULL, body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE tickets (id uuid PRIMARY KEY, correlation_id uuid NOT NULL, subject text NOT NULL,
    published boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL DEFAULT now());
"""
PREFETCH = 32


def quorum() -> FieldTable:
    return {"x-queue-type": "quorum", "x-delivery-limit": 5, "x-overflow": "reject-publish"}


async def declare(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractExchange:
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    for stage, key in QUEUES.items():
        queue = await channel.declare_queue(f"{stage}.{key}", durable=True, arguments=quorum())
        await queue.bind(exchange, routing_key=key)
    return exchange


def text_of(raw: bytes, policy_name: str) -> tuple[str, str]:
    """Subject and first text part, as a minimal parser must find them; an undecodable
    part (an unknown charset) gives no text rather than a stuck message."""
    if policy_name == "default":
        message = BytesParser(policy=email_policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain", "html"))
        try:
            text = str(body.get_content()) if body is not None else ""
        except (LookupError, ValueError):
            text = ""
        return str(message.get("subject", "")), text
    compat: Message = BytesParser(policy=email_policy.compat32).parsebytes(raw)
    for part in compat.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            charset = part.get_content_charset() or "us-ascii"
            try:
                text = payload.decode(charset, "replace") if isinstance(payload, bytes) else ""
            except LookupError:
                text = payload.decode("latin-1") if isinstance(payload, bytes) else ""
            return str(compat.get("subject", "")), text
    return str(compat.get("subject", "")), ""


def persistent(body: bytes, correlation: str) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        correlation_id=correlation,
        message_id=str(uuid.uuid4()),
    )


async def run_source(args: argparse.Namespace) -> None:
    """Accept every mail of the corpus files read from stdin (one path a line) and print
    {correlation id: accept time} as JSON."""
    paths = [Path(line) for line in sys.stdin.read().split()]
    pool = await asyncpg.create_pool(args.db, min_size=args.pool, max_size=args.pool)
    connection = await aio_pika.connect(args.amqp)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await declare(channel)
    accepted: dict[str, float] = {}
    numbered = enumerate(paths)

    async def worker() -> None:
        for _, path in numbered:
            raw = path.read_bytes()
            correlation = uuid.uuid4()
            await pool.execute(
                "INSERT INTO received (id, size, status) VALUES ($1, $2, 'stored')",
                correlation,
                len(raw),
            )
            await exchange.publish(persistent(raw, str(correlation)), routing_key="mail.received")
            await pool.execute(
                "UPDATE received SET status = 'published' WHERE id = $1", correlation
            )
            accepted[str(correlation)] = time.monotonic()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    await connection.close()
    await pool.close()
    json.dump(accepted, sys.stdout)


async def run_consumer(args: argparse.Namespace) -> None:
    """The parser or router stage, until SIGTERM."""
    pool = await asyncpg.create_pool(args.db, min_size=args.pool, max_size=args.pool)
    connection = await aio_pika.connect(args.amqp)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await declare(channel)
    await channel.set_qos(prefetch_count=PREFETCH)
    queue = await channel.get_queue(f"{args.stage}.{QUEUES[args.stage]}")

    async def parse(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        subject, body = text_of(message.body, args.policy)
        parsed = uuid.uuid4()
        await pool.execute(
            "INSERT INTO parsed (id, subject, body) VALUES ($1, $2, $3)",
            parsed,
            subject.replace("\x00", ""),
            body.replace("\x00", ""),
        )
        out = json.dumps({"parsed_id": str(parsed), "subject": subject}).encode()
        await exchange.publish(
            persistent(out, message.correlation_id or ""), routing_key="mail.parsed"
        )
        await message.ack()

    async def route(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        parsed = json.loads(message.body)
        ticket = uuid.uuid4()
        correlation = message.correlation_id or ""
        await pool.execute(
            "INSERT INTO tickets (id, correlation_id, subject) VALUES ($1, $2, $3)",
            ticket,
            uuid.UUID(correlation),
            parsed["subject"].replace("\x00", ""),
        )
        out = json.dumps({"ticket_id": str(ticket)}).encode()
        await exchange.publish(persistent(out, correlation), routing_key="ticket.assigned")
        await pool.execute("UPDATE tickets SET published = true WHERE id = $1", ticket)
        await message.ack()

    await queue.consume(parse if args.stage == "parser" else route)
    print("ready", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await connection.close()
    await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stage", choices=("source", "parser", "router"))
    parser.add_argument("--amqp", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--policy", choices=("compat32", "default"), default="compat32")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run_source(args) if args.stage == "source" else run_consumer(args))


if __name__ == "__main__":
    main()
