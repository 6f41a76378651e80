"""`postdesk dlq list|show|replay|discard`: the dead-letter queues.

    postdesk dlq list                     every dead-letter queue and how many wait in it
    postdesk dlq show QUEUE [--limit N] [--body] [--json]
                                          the waiting messages: event id, type, tenant,
                                          why and when they were dead-lettered
    postdesk dlq replay QUEUE (--id EVENT-ID ... | --tenant ID | --all)
                                          put them back into the consumer queue
    postdesk dlq discard QUEUE (--id EVENT-ID ... | --tenant ID | --all)
                                          drop them for good (each one is printed first)

QUEUE is a consumer queue (`router.mail.parsed`) or its dead-letter queue
(`router.mail.parsed.dlq`). A replayed message goes only to the queue it died
in, not to the other subscribers of its event, with its event id unchanged:
the consumer skips it if it had handled it after all. Fix the cause first
(the service's logs carry the event id), then replay. How messages are moved
safely: postdesk_cli.dead_letters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import IO

import aio_pika
from postdesk_contracts.topology import SUBSCRIPTIONS

from postdesk_cli.dead_letters import (
    Action,
    DeadLetter,
    Tally,
    dead_letter_count,
    history,
    open_channel,
    queue_spec,
    walk,
)
from postdesk_cli.settings import CliSettings

DEFAULT_SHOW_LIMIT = 20


def add_dlq_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="dead-lettered messages: list, show, replay, discard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_commands.add_parser("list", help="every dead-letter queue and its message count")
    show = dlq_commands.add_parser("show", help="read the waiting messages (they stay)")
    show.add_argument("queue")
    show.add_argument("--limit", type=int, default=DEFAULT_SHOW_LIMIT, metavar="N")
    show.add_argument("--body", action="store_true", help="also print each event's JSON")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    for name, what in (
        ("replay", "put messages back into their consumer queue"),
        ("discard", "drop messages for good"),
    ):
        command = dlq_commands.add_parser(name, help=what)
        command.add_argument("queue")
        chosen = command.add_mutually_exclusive_group(required=True)
        chosen.add_argument("--id", dest="ids", action="append", type=uuid.UUID, metavar="EVENT-ID")
        chosen.add_argument("--tenant", type=uuid.UUID, help="every message of this tenant")
        chosen.add_argument("--all", action="store_true", help="every waiting message")


def run_dlq(args: argparse.Namespace, settings: CliSettings) -> int:
    try:
        return asyncio.run(_run(args, settings.amqp_url, sys.stdout))
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, amqp_url: str, out: IO[str]) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await open_channel(connection)
        if args.dlq_command == "list":
            return await _list(channel, out)
        spec = queue_spec(args.queue)
        if args.dlq_command == "show":
            shown = 0

            async def show(letter: DeadLetter) -> Action:
                nonlocal shown
                if shown < args.limit:
                    shown += 1
                    _print_letter(letter, out, body=args.body, as_json=args.json)
                return Action.KEEP

            # Reading stops at the limit: the rest stay where they are.
            total = await dead_letter_count(channel, spec)
            if total > args.limit:
                print(f"# {total} waiting, showing the first {args.limit}", file=out)
            await walk(channel, spec, show, limit=args.limit)
            return 0
        chosen = Action.REPLAY if args.dlq_command == "replay" else Action.DISCARD
        wanted = {str(i) for i in args.ids or ()}

        async def decide(letter: DeadLetter) -> Action:
            if not (
                args.all
                or letter.event_id in wanted
                or (args.tenant is not None and letter.tenant_id == str(args.tenant))
            ):
                return Action.KEEP
            wanted.discard(letter.event_id)
            print(
                json.dumps({"action": chosen.value} | letter.summary(), ensure_ascii=False),
                file=out,
            )
            return chosen

        tally = await walk(channel, spec, decide)
        _print_tally(spec.dead_letter_name, tally, out)
        if wanted:
            print(f"not found in {spec.dead_letter_name}: {', '.join(sorted(wanted))}", file=out)
            return 1
        return 0


async def _list(channel: aio_pika.abc.AbstractChannel, out: IO[str]) -> int:
    total = 0
    for spec in SUBSCRIPTIONS:
        count = await dead_letter_count(channel, spec)
        total += count
        print(f"{spec.dead_letter_name:<48} {count:>8}", file=out)
    print(f"{'total':<48} {total:>8}", file=out)
    return 0


def _print_letter(letter: DeadLetter, out: IO[str], *, body: bool, as_json: bool) -> None:
    record = letter.summary()
    attempts = history(letter)
    if attempts is not None:
        record["history"] = attempts
    if body:
        record["event"] = letter.envelope()
    if as_json:
        print(json.dumps(record, ensure_ascii=False, default=str), file=out)
        return
    print(
        f"{letter.event_id}  {letter.event_type}  tenant {letter.tenant_id or '-'}  "
        f"died {letter.dead_lettered_at or '?'} ({letter.reason or 'unknown reason'}, "
        f"{letter.deaths}x)" + (f"  replayed {letter.replays}x" if letter.replays else ""),
        file=out,
    )
    for key in ("history", "event"):
        if key in record:
            print(f"  {key}: {json.dumps(record[key], ensure_ascii=False, default=str)}", file=out)


def _print_tally(queue: str, tally: Tally, out: IO[str]) -> None:
    print(
        f"{queue}: {tally.replayed} replayed, {tally.discarded} discarded, {tally.kept} kept",
        file=out,
    )
