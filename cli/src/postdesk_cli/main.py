"""`postdesk`: migrate, demo, run one service, bring the whole system up, or configure it."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from postdesk_runtime.db import make_engine, make_sessions
from postdesk_runtime.logging import configure_logging
from postdesk_runtime.settings import ServiceSettings

from postdesk_cli.blobs import cmd_blobs_rotate
from postdesk_cli.config_reference import add_config_reference_command, run_config_reference
from postdesk_cli.database import create_and_migrate
from postdesk_cli.demo import DEMO_SLUG, DemoInfo, address, seed_demo
from postdesk_cli.dlq import add_dlq_commands, run_dlq
from postdesk_cli.imap import add_imap_commands, run_imap
from postdesk_cli.inbound import add_inbound_commands, run_inbound
from postdesk_cli.keys import cmd_keys_rotate
from postdesk_cli.parse import add_parse_command, run_parse
from postdesk_cli.rejected import add_rejected_commands, run_rejected
from postdesk_cli.repair import add_repair_commands, run_reparse, run_thread
from postdesk_cli.routing import COMMAND_NAMES as ROUTING_COMMANDS
from postdesk_cli.routing import add_routing_commands, run_routing
from postdesk_cli.sample import curl_line, sample_email
from postdesk_cli.services import (
    MAILSINK,
    MAILSINK_PORT,
    MAILSINK_SMTP_PORT,
    SERVICE_PORTS,
    SERVICES,
    ports_from,
)
from postdesk_cli.settings import CliSettings
from postdesk_cli.sla import add_sla_commands, run_sla
from postdesk_cli.smtp import add_smtp_commands, run_smtp
from postdesk_cli.supervisor import Supervisor, entry_point

DEV_WEBHOOK_SECRET = "dev-webhook-secret"  # noqa: S105  # the ingest service's development default


def cmd_migrate(settings: ServiceSettings) -> int:
    create_and_migrate(settings.database_url)
    print("database is at the latest migration")
    return 0


def cmd_demo(settings: CliSettings, base_port: int | None) -> int:
    create_and_migrate(settings.database_url)

    async def seed() -> DemoInfo:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            return await seed_demo(make_sessions(engine), inbound_domain=settings.inbound_domain)
        finally:
            await engine.dispose()

    info = asyncio.run(seed())
    ports = ports_from(base_port) if base_port else SERVICE_PORTS
    host = "127.0.0.1"
    gateway = f"http://{host}:{ports['gateway']}"
    webhook = f"http://{host}:{ports['ingest']}/webhooks/raw"
    secret = os.environ.get("INGEST_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
    sample_path = Path(os.environ.get("POSTDESK_VAR_DIR", "var")) / "demo" / "sample.eml"
    sample_path.parent.mkdir(parents=True, exist_ok=True)
    sample_path.write_bytes(sample_email(address("cs")))
    print(f"demo tenant {'created' if info.created else 'already present'}: {info.tenant_id}")
    print(f"logins (password {info.password!r}):")
    for email, role in sorted(info.users.items()):
        print(f"  {email:<24} {role}")
    print("mailboxes: " + ", ".join(sorted(info.accounts)))
    print(f"inbound address for {address('cs')}: {info.inbound_address}")
    print(
        "SLA policies: "
        + (", ".join(info.sla_policies) or "none active")
        + f" (postdesk sla list {DEMO_SLUG}; routing settings: docs/routing.md)"
    )
    print(
        f"outgoing mail goes to {info.smtp}"
        + (
            f": the mail sink, see http://{host}:{MAILSINK_PORT}/ or var/sent-mail/"
            if info.smtp.endswith(f":{MAILSINK_SMTP_PORT}")
            else ""
        )
    )
    print(f"console:  {gateway}/   (the web console: log in with one of the logins above)")
    print(f"gateway:  {gateway}   (OpenAPI at {gateway}/schema)")
    print(f"webhook:  {webhook}")
    print(f"secret:   {secret}")
    print("send the sample email:")
    print("  " + curl_line(sample_path, webhook, secret, address("cs")))
    print("then read the ticket it became:")
    print(
        f"  token=$(curl -sS -X POST {gateway}/auth/login -H 'Content-Type: application/json' "
        f'-d \'{{"email":"{address("john")}","password":"{info.password}"}}\' '
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'); "
        f'curl -sS {gateway}/tickets -H "Authorization: Bearer $token"'
    )
    return 0


def cmd_run(service: str) -> int:
    os.execv(entry_point(service), [f"postdesk-{service}"])  # noqa: S606  # our own entry point


def cmd_up(
    settings: ServiceSettings, base_port: int | None, migrate_first: bool, *, mailsink: bool
) -> int:
    if migrate_first:
        create_and_migrate(settings.database_url)
    env = {"LOG_FORMAT": os.environ.get("LOG_FORMAT", "console")}
    ports = dict(ports_from(base_port) if base_port else SERVICE_PORTS)
    if mailsink:
        ports[MAILSINK] = (base_port + len(ports)) if base_port else MAILSINK_PORT
    supervisor = Supervisor(env=env, ports=ports)

    def request_stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Both explicitly: a shell that starts us in the background makes SIGINT ignored.
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for name in SERVICE_PORTS:
        supervisor.start(name)
    if mailsink:
        supervisor.start(MAILSINK, service=MAILSINK)
    try:
        supervisor.wait_ready(timeout=90)
        print(
            "postdesk is up: "
            + ", ".join(f"{p.name} :{p.port}" for p in supervisor.processes.values()),
            flush=True,
        )
        exited = supervisor.wait_any_exit()
        print(f"{exited.name} exited with {exited.process.returncode}; stopping", flush=True)
        return 1
    except KeyboardInterrupt:
        print("stopping (finishing in-flight messages)", flush=True)
        return 0
    finally:
        supervisor.stop_all()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="postdesk", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="migrate, then run every service until Ctrl-C")
    up.add_argument("--base-port", type=int, default=None, help="ports from here, one per service")
    up.add_argument("--no-migrate", action="store_true")
    up.add_argument(
        "--no-mailsink",
        action="store_true",
        help="do not start the local SMTP server that keeps sent mail (var/sent-mail, :8025)",
    )
    run = commands.add_parser("run", help="run one service in the foreground")
    run.add_argument("service", choices=SERVICES)
    commands.add_parser("migrate", help="create the database if needed and migrate it")
    demo = commands.add_parser("demo", help="create the demo tenant and print how to use it")
    demo.add_argument("--base-port", type=int, default=None)
    asyncapi = commands.add_parser("asyncapi", help="write the AsyncAPI document of all events")
    asyncapi.add_argument("--out", type=Path, default=Path("docs/asyncapi.json"))
    openapi = commands.add_parser(
        "openapi", help="write the gateway's OpenAPI document (the web console's client types)"
    )
    openapi.add_argument("--out", type=Path, default=Path("web/openapi.json"))
    blobs = commands.add_parser("blobs", help="blob store maintenance")
    blobs_commands = blobs.add_subparsers(dest="blobs_command", required=True)
    blobs_commands.add_parser("rotate", help="re-encrypt every blob not under the active key")
    keys = commands.add_parser("keys", help="the encryption keyring (ENCRYPTION_KEYS)")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_commands.add_parser(
        "rotate",
        help="re-seal database secrets and re-encrypt blobs under the active (first) key",
    )
    add_dlq_commands(commands)
    add_config_reference_command(commands)
    add_imap_commands(commands)
    add_inbound_commands(commands)
    add_parse_command(commands)
    add_rejected_commands(commands)
    add_repair_commands(commands)
    add_routing_commands(commands)
    add_sla_commands(commands)
    add_smtp_commands(commands)
    return root


def write_document(kind: str, out: Path) -> int:
    """`asyncapi` or `openapi`: imports the services, so only when asked."""
    if kind == "asyncapi":
        from postdesk_cli.asyncapi import render as render_asyncapi

        out.write_text(render_asyncapi())
    else:
        from postdesk_cli.openapi import render as render_openapi

        out.write_text(render_openapi())
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "parse":
        return run_parse(args)  # pure: needs no settings, database or broker
    if args.command == "config-reference":
        return run_config_reference(args)  # reads the code and files only
    settings = CliSettings()
    if args.command == "migrate":
        return cmd_migrate(settings)
    if args.command == "demo":
        return cmd_demo(settings, args.base_port)
    if args.command == "blobs":
        return cmd_blobs_rotate(settings)
    if args.command == "keys":
        return cmd_keys_rotate(settings)
    if args.command in ("asyncapi", "openapi"):
        return write_document(args.command, args.out)
    if args.command in ("dlq", "rejected", "reparse", "thread"):
        # stdout carries the answer (JSON lines, trees): what the services log goes to stderr
        configure_logging("cli", fmt="console", level=settings.log_level)
    if args.command == "dlq":
        return run_dlq(args, settings)
    if args.command == "rejected":
        return run_rejected(args, settings)
    if args.command == "reparse":
        return run_reparse(args, settings)
    if args.command == "thread":
        return run_thread(args, settings)
    if args.command == "imap":
        return run_imap(args)
    if args.command == "inbound":
        return run_inbound(args, settings)
    if args.command in ROUTING_COMMANDS:
        return run_routing(args, settings)
    if args.command == "sla":
        return run_sla(args, settings)
    if args.command == "smtp":
        return run_smtp(args, settings)
    if args.command == "run":
        return cmd_run(args.service)
    return cmd_up(settings, args.base_port, not args.no_migrate, mailsink=not args.no_mailsink)


if __name__ == "__main__":
    sys.exit(main())
