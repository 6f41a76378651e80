"""`postdesk imap add|backfill`: register an IMAP mailbox, read an existing one once.

`add` stores the mailbox with its password encrypted by the keyring
(ENCRYPTION_KEYS), checks the login, and records the folder's current
position so the poller reads only mail that arrives from now on (unless
--read-existing). `backfill` then reads the mail before that position once,
as source "imap-backfill" so that no auto-reply answers old mail.
The password never appears on the command line: --password-env names an
environment variable, otherwise it is asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the ingest service loads only when an imap command runs
    from postdesk_ingest.imap.db import MailboxRow
    from postdesk_ingest.settings import IngestSettings
    from postdesk_schema import ImapMailbox


def add_imap_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imap = commands.add_parser("imap", help="IMAP mailboxes that ingest polls")
    sub = imap.add_subparsers(dest="imap_command", required=True)
    add = sub.add_parser("add", help="store a mailbox (password encrypted) for an email account")
    add.add_argument("--account", required=True, help="the postdesk account address it delivers to")
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int, default=None, help="993 for ssl, 143 otherwise")
    add.add_argument("--security", choices=("ssl", "starttls", "plain"), default="ssl")
    add.add_argument("--username", required=True)
    add.add_argument("--password-env", default=None, help="read the password from this variable")
    add.add_argument("--folder", default="INBOX")
    add.add_argument("--after-action", default="flag", help="flag, flag:<keyword>, move or leave")
    add.add_argument("--move-to", default=None, help="folder for --after-action move")
    add.add_argument("--poll-interval", type=int, default=60, help="seconds, when IDLE is not used")
    add.add_argument("--no-idle", action="store_true")
    add.add_argument(
        "--read-existing",
        action="store_true",
        help="let the poller read the mail already there as new mail (it may be auto-replied to)",
    )
    backfill = sub.add_parser("backfill", help="read a mailbox's existing mail once")
    backfill.add_argument("mailbox_id", type=uuid.UUID)


def run_imap(args: argparse.Namespace) -> int:
    from postdesk_ingest.settings import IngestSettings
    from postdesk_runtime import configure_logging

    settings = IngestSettings()
    configure_logging("cli", "console", settings.log_level)  # keeps per-message debug logs off
    if args.imap_command == "add":
        return asyncio.run(_add(settings, args))
    return asyncio.run(_backfill(settings, args.mailbox_id))


async def _add(settings: IngestSettings, args: argparse.Namespace) -> int:
    from postdesk_ingest.imap import AfterAction, ConfigError, seal_imap_password
    from postdesk_ingest.imap import db as imap_db
    from postdesk_runtime.db import make_engine, make_sessions
    from postdesk_schema import EmailAccount, ImapMailbox
    from sqlalchemy import select

    try:
        AfterAction.parse(args.after_action, args.move_to)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    password = os.environ.get(args.password_env, "") if args.password_env else ""
    if not password:
        password = getpass.getpass(f"IMAP password for {args.username}: ")
    port = args.port or (993 if args.security == "ssl" else 143)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        sessions = make_sessions(engine)
        async with sessions() as session:
            account = (
                await session.execute(
                    select(EmailAccount).where(EmailAccount.address == args.account.strip().lower())
                )
            ).scalar_one_or_none()
        if account is None:
            print(f"error: no email account {args.account}", file=sys.stderr)
            return 2
        mailbox = ImapMailbox(
            tenant_id=account.tenant_id,
            account_id=account.id,
            host=args.host,
            port=port,
            security=args.security,
            username=args.username,
            password_ciphertext=seal_imap_password(settings.keyring(), password),
            folder=args.folder,
            after_action=args.after_action,
            move_to_folder=args.move_to,
            poll_interval_seconds=args.poll_interval,
            use_idle=not args.no_idle,
        )
        row = _row(mailbox, account.address)
        uidvalidity, last_uid = await asyncio.to_thread(_position, row, settings)
        async with sessions() as session, session.begin():
            session.add(mailbox)
            await session.flush()
            await imap_db.ensure_state(session, mailbox.id)
            await imap_db.set_position(
                session,
                mailbox.id,
                owner=None,
                uidvalidity=uidvalidity,
                last_uid=0 if args.read_existing else last_uid,
            )
    finally:
        await engine.dispose()
    existing = "read by the poller" if args.read_existing else "left for `postdesk imap backfill`"
    print(f"imap mailbox {mailbox.id} added for {account.address}")
    print(
        f"{(last_uid and 'messages up to UID ' + str(last_uid)) or 'no messages'} there: {existing}"
    )
    return 0


def _row(mailbox: ImapMailbox, address: str) -> MailboxRow:
    from postdesk_ingest.imap.db import MailboxRow

    return MailboxRow(
        id=mailbox.id,
        tenant_id=mailbox.tenant_id,
        address=address,
        host=mailbox.host,
        port=mailbox.port,
        security=mailbox.security,
        username=mailbox.username,
        password_ciphertext=mailbox.password_ciphertext,
        folder=mailbox.folder,
        after_action=mailbox.after_action,
        move_to_folder=mailbox.move_to_folder,
        poll_interval_seconds=mailbox.poll_interval_seconds,
        use_idle=mailbox.use_idle,
    )


def _position(row: MailboxRow, settings: IngestSettings) -> tuple[int, int]:
    """Log in (checking the credentials) and read the folder's UIDVALIDITY and highest UID."""
    from postdesk_ingest.imap.sync import open_session

    conn = open_session(row, settings.keyring(), settings.imap)
    try:
        selected = conn.select(row.folder, readonly=True)
        uids = conn.uids_after(0) if selected.exists else []
        return selected.uidvalidity, max(uids, default=0)
    finally:
        conn.close()


class Progress:
    """One status line on stderr: count/total, percent, rate."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        percent = 100.0 * done / total if total else 100.0
        print(
            f"\rbackfill: {done}/{total} ({percent:.1f}%) {done / elapsed:.1f} msg/s",
            end="",
            file=sys.stderr,
            flush=True,
        )


async def _backfill(settings: IngestSettings, mailbox_id: uuid.UUID) -> int:
    from opentelemetry import trace
    from postdesk_ingest.imap import BackfillError, backfill
    from postdesk_ingest.service import Ports
    from postdesk_runtime import (
        EventPublisher,
        declare_topology,
        make_blob_store,
        make_broker,
        make_engine,
        make_sessions,
    )

    engine = make_engine(settings.database_url, pool_size=2)
    broker = make_broker(settings.amqp_url)
    try:
        await broker.connect()
        await declare_topology(broker)
        ports = Ports(
            blobs=make_blob_store(settings),
            sessions=make_sessions(engine),
            publisher=EventPublisher(broker),
            tracer=trace.get_tracer("postdesk.cli.imap"),
            publish_timeout=settings.publish_timeout_seconds,
        )
        try:
            result = await backfill(
                mailbox_id,
                ports=ports,
                keyring=settings.keyring(),
                settings=settings.imap,
                progress=Progress(),
            )
        except BackfillError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    finally:
        await broker.stop()
        await engine.dispose()
    rate = result.total / result.seconds if result.seconds else 0.0
    print(file=sys.stderr)
    print(
        f"backfill done: {result.total} messages in {result.seconds:.1f} s ({rate:.1f}/s): "
        f"{result.accepted} new, {result.duplicates} already known"
    )
    return 0
