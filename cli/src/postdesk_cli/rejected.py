"""`postdesk rejected list|retry`: mail the pipeline refused, and feeding it in again.

    postdesk rejected list [--stage parser|router] [--days N] [--limit N]
        one JSON line per rejection, newest first: when, stage, reason, Message-ID,
        the raw mail's sha256 and blob (read it with `postdesk parse`)
    postdesk rejected retry LOG-ID --rcpt ADDRESS [--rcpt ADDRESS ...]
        publish the stored raw mail as a new mail.received for these recipients

A rejection is recorded in the email processing log with the raw mail's
blob: the parser refuses mail it cannot read, the router mail for addresses
no tenant owns. After the cause is fixed (a parser fix deployed, the
account created), `retry` sends the same bytes through the pipeline again
under a new event id, with the channel and source of the first delivery
(so IMAP backfill stays an import). The envelope recipients are not kept
with a rejection; give the address the mail was for. The router stores a
Message-ID once per tenant, so retrying mail that did get through meanwhile
adds nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import IO

from postdesk_contracts import EventType, MailReceived, new_envelope
from postdesk_contracts.events import Channel
from postdesk_runtime import EventPublisher, declare_topology, make_blob_store, make_broker
from postdesk_runtime.db import make_engine, make_sessions
from postdesk_schema.logs import EmailProcessingLog
from sqlmodel import col, select

from postdesk_cli.settings import CliSettings

REJECTED = "rejected"
INGEST = "ingest"


def add_rejected_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rejected = commands.add_parser(
        "rejected",
        help="mail the pipeline refused: list it, feed it in again",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rejected_commands = rejected.add_subparsers(dest="rejected_command", required=True)
    listing = rejected_commands.add_parser("list", help="rejections, newest first")
    listing.add_argument("--stage", choices=("parser", "router"), default=None)
    listing.add_argument("--days", type=int, default=7, metavar="N", help="the last N days (7)")
    listing.add_argument("--limit", type=int, default=100, metavar="N")
    retry = rejected_commands.add_parser("retry", help="publish the stored mail again")
    retry.add_argument("log_id", type=uuid.UUID, metavar="LOG-ID")
    retry.add_argument("--rcpt", action="append", required=True, metavar="ADDRESS")


def run_rejected(args: argparse.Namespace, settings: CliSettings) -> int:
    work = _list if args.rejected_command == "list" else _retry
    try:
        return asyncio.run(work(args, settings, sys.stdout))
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


async def _list(args: argparse.Namespace, settings: CliSettings, out: IO[str]) -> int:
    since = datetime.now(UTC) - timedelta(days=args.days)
    query = (
        select(EmailProcessingLog)
        .where(
            col(EmailProcessingLog.status) == REJECTED,
            col(EmailProcessingLog.created_at) >= since,
        )
        .order_by(col(EmailProcessingLog.created_at).desc())
        .limit(args.limit)
    )
    if args.stage:
        query = query.where(col(EmailProcessingLog.stage) == args.stage)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessions(engine)() as session:
            rows = list(await session.scalars(query))
    finally:
        await engine.dispose()
    for row in rows:
        record = {
            "id": str(row.id),
            "at": row.created_at.isoformat(),
            "stage": row.stage,
            "reason": row.detail,
            "message_id": row.message_id_header,
            "tenant_id": str(row.tenant_id) if row.tenant_id else None,
            "sha256": row.sha256,
            "raw_blob_ref": row.raw_blob_ref,
        }
        print(json.dumps(record, ensure_ascii=False), file=out)
    return 0


async def _retry(args: argparse.Namespace, settings: CliSettings, out: IO[str]) -> int:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessions(engine)() as session:
            rejection = await session.get(EmailProcessingLog, args.log_id)
            if rejection is None or rejection.status != REJECTED:
                raise LookupError(f"no rejection {args.log_id} in the processing log")
            source = await session.scalar(
                select(col(EmailProcessingLog.detail))
                .where(
                    col(EmailProcessingLog.stage) == INGEST,
                    col(EmailProcessingLog.raw_blob_ref) == rejection.raw_blob_ref,
                )
                .order_by(col(EmailProcessingLog.created_at))
                .limit(1)
            )
    finally:
        await engine.dispose()
    raw = await make_blob_store(settings).get(rejection.raw_blob_ref)
    if hashlib.sha256(raw).hexdigest() != rejection.sha256:
        raise LookupError(f"the stored mail of {args.log_id} does not match its sha256")
    source = source or "retry"
    event = new_envelope(
        EventType.MAIL_RECEIVED,
        MailReceived(
            raw_blob_ref=rejection.raw_blob_ref,
            sha256=rejection.sha256,
            size=len(raw),
            channel=channel_of(source),
            envelope_recipients=[a.strip().lower() for a in args.rcpt],
            received_at=datetime.now(UTC),
            source=source,
        ),
    )
    broker = make_broker(settings.amqp_url)
    await broker.connect()
    try:
        await declare_topology(broker)
        await EventPublisher(broker).publish(event)
    finally:
        await broker.stop()
    print(
        json.dumps(
            {
                "retried": str(args.log_id),
                "event_id": str(event.id),
                "channel": event.payload.channel.value,
                "source": source,
            }
        ),
        file=out,
    )
    return 0


def channel_of(source: str) -> Channel:
    """The channel a source name belongs to (`smtp:peer`, `imap-backfill`, ...); provider
    names (mailgun, postmark, ...) arrive by webhook."""
    for channel in Channel:
        if source.startswith(channel.value):
            return channel
    return Channel.WEBHOOK
