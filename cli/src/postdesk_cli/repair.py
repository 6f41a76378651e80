"""`postdesk reparse` and `postdesk thread show|rebuild`: repairing stored tickets.

    postdesk reparse (MESSAGE-ID ... | --ticket TICKET) [--dry-run]
        parse stored inbound mail again with this release's parser and update the
        messages; one JSON line per message (what changed, or why it could not)
    postdesk thread show TICKET
        the ticket's messages as a reply tree, and tickets elsewhere that reply to it
    postdesk thread rebuild TICKET [--dry-run]
        merge in replies left on tickets of their own, count the messages again

TICKET is a ticket id or TENANT-SLUG:NUMBER. With --dry-run everything is
done and reported, then rolled back. Details: postdesk_cli.reparse and
postdesk_cli.thread_rebuild.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import IO, Any, TypeVar

from postdesk_parser.settings import ParserSettings
from postdesk_router import merge_db
from postdesk_runtime import make_blob_store
from postdesk_runtime.db import Sessions, make_engine, make_sessions
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_cli.reparse import inbound_messages_of, reparse_message
from postdesk_cli.settings import CliSettings
from postdesk_cli.thread_rebuild import (
    ThreadMessage,
    bare_message_id,
    find_ticket,
    rebuild,
    thread_of,
)

T = TypeVar("T")


def add_repair_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reparse = commands.add_parser(
        "reparse",
        help="parse stored inbound mail again and update the messages",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chosen = reparse.add_mutually_exclusive_group(required=True)
    chosen.add_argument("messages", nargs="*", type=uuid.UUID, default=[], metavar="MESSAGE-ID")
    chosen.add_argument("--ticket", help="every inbound message of this ticket")
    reparse.add_argument("--dry-run", action="store_true")
    thread = commands.add_parser(
        "thread",
        help="a ticket's thread: show it, rebuild it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    thread_commands = thread.add_subparsers(dest="thread_command", required=True)
    show = thread_commands.add_parser("show", help="the messages as a reply tree")
    show.add_argument("ticket", help="ticket id or TENANT-SLUG:NUMBER")
    rebuilding = thread_commands.add_parser(
        "rebuild", help="merge in early replies, count the messages again"
    )
    rebuilding.add_argument("ticket", help="ticket id or TENANT-SLUG:NUMBER")
    rebuilding.add_argument("--dry-run", action="store_true")


def run_reparse(args: argparse.Namespace, settings: CliSettings) -> int:
    return _guarded(_reparse(args, settings, sys.stdout))


def run_thread(args: argparse.Namespace, settings: CliSettings) -> int:
    work = _show if args.thread_command == "show" else _rebuild
    return _guarded(work(args, settings, sys.stdout))


def _guarded(work: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(work)
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


async def _with_sessions(settings: CliSettings, use: Callable[[Sessions], Awaitable[T]]) -> T:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        return await use(make_sessions(engine))
    finally:
        await engine.dispose()


async def _in_transaction(
    sessions: Sessions, work: Callable[[AsyncSession], Awaitable[T]], *, dry_run: bool
) -> T:
    async with sessions() as session:
        transaction = await session.begin()
        try:
            result = await work(session)
        except BaseException:
            await transaction.rollback()
            raise
        await (transaction.rollback() if dry_run else transaction.commit())
        return result


async def _reparse(args: argparse.Namespace, settings: CliSettings, out: IO[str]) -> int:
    blobs = make_blob_store(settings)
    limits = ParserSettings().parse_limits()

    async def each(sessions: Sessions) -> int:
        ids: list[uuid.UUID] = list(args.messages)
        if args.ticket:
            async with sessions() as session:
                ticket = await find_ticket(session, args.ticket)
                ids = await inbound_messages_of(session, ticket.id)
        failed = 0
        for message_id in ids:
            done = await _in_transaction(
                sessions,
                partial(reparse_message, message_id=message_id, blobs=blobs, limits=limits),
                dry_run=args.dry_run,
            )
            failed += done.error is not None
            print(json.dumps(done.record(), ensure_ascii=False), file=out, flush=True)
        return 1 if failed else 0

    return await _with_sessions(settings, each)


async def _show(args: argparse.Namespace, settings: CliSettings, out: IO[str]) -> int:
    async def read(sessions: Sessions) -> int:
        async with sessions() as session:
            ticket = await find_ticket(session, args.ticket)
            print(
                f"ticket #{ticket.number} {ticket.id} {ticket.status}: {ticket.subject!r}, "
                f"{ticket.message_count} messages counted",
                file=out,
            )
            if ticket.merged_into_id is not None:
                print(f"merged into {ticket.merged_into_id}", file=out)
            messages = await thread_of(session, ticket.id)
            _print_tree(messages, out)
            elsewhere: set[uuid.UUID] = set()
            for message in messages:
                elsewhere.update(
                    await merge_db.tickets_naming(
                        session,
                        ticket.tenant_id,
                        bare_message_id(message.message_id_header),
                        ticket.id,
                    )
                )
            for other in sorted(elsewhere):
                print(f"replies to this thread on ticket {other}", file=out)
        return 0

    return await _with_sessions(settings, read)


def _print_tree(messages: list[ThreadMessage], out: IO[str]) -> None:
    by_parent: dict[str | None, list[ThreadMessage]] = {}
    for message in messages:
        by_parent.setdefault(message.parent, []).append(message)

    def walk(parent: str | None, depth: int) -> None:
        for message in by_parent.get(parent, []):
            print(
                f"{'  ' * (depth + 1)}{message.at:%Y-%m-%d %H:%M} {message.direction:<8} "
                f"{message.from_email or '-'}  <{bare_message_id(message.message_id_header)}>  "
                f"{message.subject!r}  [{message.match_rule or '-'}] {message.id}",
                file=out,
            )
            walk(bare_message_id(message.message_id_header), depth + 1)

    walk(None, 0)


async def _rebuild(args: argparse.Namespace, settings: CliSettings, out: IO[str]) -> int:
    async def work(sessions: Sessions) -> int:
        async def rebuilt_in(session: AsyncSession) -> str:
            ticket = await find_ticket(session, args.ticket)
            done = await rebuild(session, ticket, dry_run=args.dry_run)
            merged = ", ".join(f"#{t.number} {t.id}" for t in done.merged) or "nothing"
            before, after = done.message_count
            return (
                f"ticket #{done.number} {done.ticket_id}: merged in {merged}; "
                f"messages counted {before} -> {after}"
                + (" (dry run, rolled back)" if args.dry_run else "")
            )

        print(await _in_transaction(sessions, rebuilt_in, dry_run=args.dry_run), file=out)
        return 0

    return await _with_sessions(settings, work)
