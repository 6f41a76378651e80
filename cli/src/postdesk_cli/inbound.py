"""`postdesk inbound address|domain ...`: manage where tenants receive mail.

    postdesk inbound address add cs@acme.example [--domain D]   prints the new address
    postdesk inbound address list [--tenant SLUG]
    postdesk inbound address disable ADDRESS
    postdesk inbound domain add DOMAIN --tenant SLUG [--catch-all ACCOUNT]
    postdesk inbound domain list
    postdesk inbound domain remove DOMAIN

The rules are in `postdesk_cli.inbound_rules`; this module parses and prints.
A refusal prints "error: ..." on stderr and exits with 2. Ingest's recipient
directory caches answers, so a change reaches it within its TTL (30 s for
known addresses, 5 s for unknown ones).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from postdesk_runtime.db import Sessions, make_engine, make_sessions

from postdesk_cli import inbound_rules as rules
from postdesk_cli.settings import CliSettings

Command = Callable[[Sessions, argparse.Namespace, CliSettings], Awaitable[int]]


def add_inbound_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inbound = commands.add_parser("inbound", help="generated inbound addresses and tenant domains")
    kinds = inbound.add_subparsers(dest="inbound_kind", required=True)

    address = kinds.add_parser("address", help="generated addresses (tenant-x7k2...@in.domain)")
    address_commands = address.add_subparsers(dest="inbound_command", required=True)
    add = address_commands.add_parser("add", help="generate an address for an account; print it")
    add.add_argument("account", help="the email account it delivers to, e.g. cs@acme.example")
    add.add_argument("--domain", default=None, help="default: INBOUND_DOMAIN, or a tenant domain")
    listing = address_commands.add_parser("list", help="list generated addresses")
    listing.add_argument("--tenant", default=None, help="only this tenant's (slug)")
    disable = address_commands.add_parser("disable", help="stop accepting mail for an address")
    disable.add_argument("address")

    domain = kinds.add_parser("domain", help="tenants' own domains")
    domain_commands = domain.add_subparsers(dest="inbound_command", required=True)
    add_domain = domain_commands.add_parser("add", help="give a domain to a tenant")
    add_domain.add_argument("domain")
    add_domain.add_argument("--tenant", required=True, help="the owning tenant's slug")
    add_domain.add_argument(
        "--catch-all", default=None, help="account of the tenant for unknown addresses there"
    )
    domain_commands.add_parser("list", help="list tenant domains")
    remove = domain_commands.add_parser("remove", help="take a domain from its tenant")
    remove.add_argument("domain")


def run_inbound(args: argparse.Namespace, settings: CliSettings) -> int:
    command = COMMANDS[(args.inbound_kind, args.inbound_command)]

    async def run() -> int:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            return await command(make_sessions(engine), args, settings)
        except rules.InboundConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _address_add(sessions: Sessions, args: argparse.Namespace, settings: CliSettings) -> int:
    view = await rules.add_address(
        sessions, args.account, domain=args.domain, platform_domain=settings.inbound_domain
    )
    print(view.address)  # alone on stdout, for scripts
    print(f"delivers to {view.account} (tenant {view.tenant_slug})", file=sys.stderr)
    return 0


async def _address_list(sessions: Sessions, args: argparse.Namespace, _: CliSettings) -> int:
    for view in await rules.list_addresses(sessions, args.tenant):
        state = "active" if view.is_active else "disabled"
        print(f"{view.address}\t{view.tenant_slug}\t{view.account}\t{state}")
    return 0


async def _address_disable(sessions: Sessions, args: argparse.Namespace, _: CliSettings) -> int:
    was_active = await rules.disable_address(sessions, args.address)
    print(f"{args.address.strip().lower()} {'disabled' if was_active else 'was already disabled'}")
    return 0


async def _domain_add(sessions: Sessions, args: argparse.Namespace, settings: CliSettings) -> int:
    view = await rules.add_domain(
        sessions,
        args.domain,
        args.tenant,
        catch_all=args.catch_all,
        platform_domain=settings.inbound_domain,
    )
    catch_all = f", catch-all {view.catch_all}" if view.catch_all else ", no catch-all"
    print(f"domain {view.domain} added to tenant {view.tenant_slug}{catch_all}")
    return 0


async def _domain_list(sessions: Sessions, _args: argparse.Namespace, _: CliSettings) -> int:
    for view in await rules.list_domains(sessions):
        print(f"{view.domain}\t{view.tenant_slug}\t{view.catch_all or '-'}")
    return 0


async def _domain_remove(sessions: Sessions, args: argparse.Namespace, _: CliSettings) -> int:
    view = await rules.remove_domain(sessions, args.domain)
    print(f"domain {view.domain} removed from tenant {view.tenant_slug}")
    return 0


COMMANDS: dict[tuple[str, str], Command] = {
    ("address", "add"): _address_add,
    ("address", "list"): _address_list,
    ("address", "disable"): _address_disable,
    ("domain", "add"): _domain_add,
    ("domain", "list"): _domain_list,
    ("domain", "remove"): _domain_remove,
}
