"""`postdesk smtp set|show|test`: the SMTP servers a tenant's mail goes out through.

    postdesk smtp set TENANT-SLUG [--account ADDRESS] --host H [--port N]
        [--security tls|starttls|none] [--username U]
        [--password-file PATH | --password-env VAR] [--from-domain D] [--timeout S]
        [--active on|off]
                    the tenant's default server, or one account's override; a first
                    save needs --host, later ones change only what they give
    postdesk smtp show TENANT-SLUG
                    the default and every override (never a password)
    postdesk smtp test TENANT-SLUG [--account ADDRESS] [--from ADDRESS]
                    connect, TLS, log in, MAIL FROM and RCPT TO the sender, RSET, QUIT with the server the
                    account's (else the tenant's) mail goes through; prints the stage
                    and reason, records the result; exits 1 when the test fails

The password never appears on the command line: --password-file names a
file (its trailing newline dropped), --password-env an environment
variable. It is stored sealed by the keyring (ENCRYPTION_KEYS). The rules
are in `postdesk_smtp.settings`; the sending in `postdesk_smtp.client`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from postdesk_runtime.db import Sessions
from postdesk_runtime.keyring import Keyring, KeyringError
from postdesk_schema import EmailAccount, SmtpServer, Tenant
from postdesk_smtp.client import probe
from postdesk_smtp.settings import (
    DEFAULT_PORTS,
    SECURITIES,
    ServerChanges,
    SmtpSettingsError,
    effective_server,
    probe_sender,
    record_test,
    save_server,
    target_of,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_cli.arguments import on_off, run_settings_command, show
from postdesk_cli.routing_rules import SettingsError, account_by_address, tenant_by_slug
from postdesk_cli.settings import CliSettings

TEST_FAILED = 1
SmtpCommand = Callable[[Sessions, Keyring, argparse.Namespace], Awaitable[int]]


def add_smtp_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    smtp = commands.add_parser("smtp", help="SMTP servers that a tenant's mail goes out through")
    smtp_commands = smtp.add_subparsers(dest="smtp_command", required=True)
    set_server = smtp_commands.add_parser(
        "set", help="create or change the tenant's default server or an account's override"
    )
    set_server.add_argument("tenant", help="tenant slug")
    set_server.add_argument("--account", default=None, help="an override for this account only")
    set_server.add_argument("--host", default=None, help="needed the first time")
    set_server.add_argument(
        "--port",
        type=int,
        default=None,
        help="default: " + ", ".join(f"{port} for {s}" for s, port in DEFAULT_PORTS.items()),
    )
    set_server.add_argument(
        "--security",
        choices=SECURITIES,
        default=None,
        help="tls is implicit TLS (default starttls)",
    )
    set_server.add_argument("--username", default=None, help="'' for no login")
    password = set_server.add_mutually_exclusive_group()
    password.add_argument(
        "--password-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="a file holding the password (its trailing newline dropped)",
    )
    password.add_argument(
        "--password-env", default=None, metavar="VAR", help="a variable holding the password"
    )
    set_server.add_argument(
        "--from-domain", default=None, help="domain of Message-IDs and EHLO; '' for the account's"
    )
    set_server.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="seconds per SMTP command"
    )
    set_server.add_argument("--active", type=on_off, default=None, metavar="on|off")
    show_servers = smtp_commands.add_parser("show", help="a tenant's SMTP settings")
    show_servers.add_argument("tenant", help="tenant slug")
    test = smtp_commands.add_parser("test", help="test the connection mail would go through")
    test.add_argument("tenant", help="tenant slug")
    test.add_argument("--account", default=None, help="the server this account's mail uses")
    test.add_argument(
        "--from",
        dest="sender",
        default=None,
        metavar="ADDRESS",
        help="MAIL FROM (default: the account's address)",
    )


def run_smtp(args: argparse.Namespace, settings: CliSettings) -> int:
    keyring = settings.keyring()
    command = COMMANDS[args.smtp_command]

    async def with_keyring(sessions: Sessions, parsed: argparse.Namespace) -> int:
        try:
            return await command(sessions, keyring, parsed)
        except (SmtpSettingsError, KeyringError) as error:
            raise SettingsError(str(error)) from error

    return run_settings_command(with_keyring, args, settings)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file is not None:
        try:
            return str(args.password_file.read_text(encoding="utf-8")).rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            raise SettingsError(f"cannot read {args.password_file}: {error}") from error
    if args.password_env is not None:
        value = os.environ.get(args.password_env)
        if value is None:
            raise SettingsError(f"environment variable {args.password_env} is not set")
        return value
    return None


async def _scope(
    session: AsyncSession, slug: str, address: str | None
) -> tuple[Tenant, EmailAccount | None]:
    tenant = await tenant_by_slug(session, slug)
    if address is None:
        return tenant, None
    account = await account_by_address(session, address)
    if account.tenant_id != tenant.id:
        raise SettingsError(f"{account.address} is not an account of tenant {tenant.slug}")
    return tenant, account


def describe(server: SmtpServer) -> list[str]:
    """The lines `show` prints for one row, password as set/not set."""
    login = f"user {show(server.username)}" if server.username else "no login"
    password = "password set" if server.password_sealed else "no password"
    tested = (
        f"last test {server.last_test_at.isoformat(timespec='seconds')}: {server.last_test_result}"
        if server.last_test_at
        else "never tested"
    )
    domain = show(server.from_domain) if server.from_domain else "(the account's)"
    return [
        f"  {server.host}:{server.port} {server.security}, {login}, {password}",
        f"  from-domain {domain}, "
        f"timeout {server.timeout_seconds:g} s, {'active' if server.is_active else 'inactive'}",
        f"  {tested}",
    ]


async def _set(sessions: Sessions, keyring: Keyring, args: argparse.Namespace) -> int:
    changes = ServerChanges(
        host=args.host,
        port=args.port,
        security=args.security,
        username=args.username,
        password=_password(args),
        from_domain=args.from_domain,
        timeout=args.timeout,
        is_active=args.active,
    )
    async with sessions() as session, session.begin():
        tenant, account = await _scope(session, args.tenant, args.account)
        server, created = await save_server(
            session,
            keyring,
            tenant_id=tenant.id,
            account_id=account.id if account else None,
            changes=changes,
        )
    scope = f"account {account.address}" if account else "tenant default"
    print(f"{scope} of tenant {tenant.slug} {'created' if created else 'changed'}:")
    for line in describe(server):
        print(line)
    if server.security == "none" and server.username:
        print(
            "warning: security none sends the login and password unencrypted",
            file=sys.stderr,
        )
    return 0


async def _show(sessions: Sessions, keyring: Keyring, args: argparse.Namespace) -> int:
    async with sessions() as session:
        tenant = await tenant_by_slug(session, args.tenant)
        rows = (
            await session.execute(
                select(SmtpServer, col(EmailAccount.address))
                .outerjoin(EmailAccount, col(EmailAccount.id) == col(SmtpServer.account_id))
                .where(col(SmtpServer.tenant_id) == tenant.id)
                .order_by(col(SmtpServer.account_id).is_not(None), col(EmailAccount.address))
            )
        ).all()
    if not rows:
        print(f"tenant {tenant.slug} has no SMTP settings: its mail cannot be sent")
        return 0
    for server, address in rows:
        print(f"account {address}:" if address else "tenant default:")
        for line in describe(server):
            print(line)
    return 0


async def _test(sessions: Sessions, keyring: Keyring, args: argparse.Namespace) -> int:
    async with sessions() as session:
        tenant, account = await _scope(session, args.tenant, args.account)
        account_id = account.id if account else None
        server = await effective_server(session, tenant_id=tenant.id, account_id=account_id)
        if server is None:
            raise SettingsError(f"no active SMTP settings for {_scope_name(tenant, account)}")
        target = target_of(server, keyring)
        sender = args.sender or await probe_sender(
            session, tenant_id=tenant.id, account_id=account_id
        )
    if not sender:
        raise SettingsError("the tenant has no active account to test with: give --from")
    used = "the account's override" if server.account_id else "the tenant default"
    print(f"testing {used}: {target.host}:{target.port} ({target.security}), sender {sender}")
    result = await probe(target, envelope_from=sender)
    async with sessions() as session, session.begin():
        await record_test(session, server.id, result.summary())
    if result.ok:
        print(f"ok: {result.response}")
        return 0
    print(f"failed at {result.stage} ({result.outcome}): {result.response}")
    return TEST_FAILED


def _scope_name(tenant: Tenant, account: EmailAccount | None) -> str:
    return f"{account.address} (tenant {tenant.slug})" if account else f"tenant {tenant.slug}"


COMMANDS: dict[str, SmtpCommand] = {"set": _set, "show": _show, "test": _test}

__all__ = ["add_smtp_commands", "describe", "run_smtp"]
