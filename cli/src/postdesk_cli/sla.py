"""`postdesk sla add|list|disable`: a tenant's SLA policies.

    postdesk sla add TENANT-SLUG --name NAME [--account ADDRESS] [--department NAME]
        [--priority low|normal|high|urgent] [--first-response-minutes N]
        [--resolution-minutes N] [--business-hours --timezone TZ
        --working-hours JSON|@file [--holiday YYYY-MM-DD ...]] [--warning-percent N]
                                        prints the new policy's id
    postdesk sla list TENANT-SLUG       one policy a line, oldest first
    postdesk sla disable POLICY-ID

The rules are in `postdesk_cli.sla_rules`; how the router applies a policy
(the most specific one, clocks, pauses, warnings): docs/routing.md.
"""

from __future__ import annotations

import argparse
import sys
import uuid

from postdesk_runtime.db import Sessions

from postdesk_cli import sla_rules as rules
from postdesk_cli.arguments import SettingsCommand, json_value, run_settings_command, show
from postdesk_cli.routing import HOURS_HELP
from postdesk_cli.settings import CliSettings


def add_sla_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sla = commands.add_parser("sla", help="SLA policies: response and resolution targets")
    sla_commands = sla.add_subparsers(dest="sla_command", required=True)
    add = sla_commands.add_parser(
        "add", help="add a policy for a tenant, one of its accounts or departments"
    )
    add.add_argument("tenant", help="tenant slug")
    add.add_argument("--name", required=True)
    add.add_argument("--account", default=None, help="only tickets of this email account")
    add.add_argument("--department", default=None, help="only tickets of this department")
    add.add_argument(
        "--priority",
        choices=rules.PRIORITIES,
        default=None,
        help="only this priority (tickets open as normal; agents change it)",
    )
    add.add_argument("--first-response-minutes", type=int, default=None, metavar="N")
    add.add_argument("--resolution-minutes", type=int, default=None, metavar="N")
    add.add_argument(
        "--business-hours",
        action="store_true",
        help="count only working hours (give --timezone and --working-hours)",
    )
    add.add_argument("--timezone", default=None, help="IANA name (business hours only)")
    add.add_argument(
        "--working-hours", type=json_value, default=None, metavar="JSON|@file", help=HOURS_HELP
    )
    add.add_argument(
        "--holiday",
        action="append",
        default=[],
        metavar="YYYY-MM-DD",
        help="a day off (business hours only); repeat for more",
    )
    add.add_argument(
        "--warning-percent",
        type=int,
        default=rules.DEFAULT_WARNING_PERCENT,
        metavar="N",
        help=f"warn when N%% of a target has elapsed (default {rules.DEFAULT_WARNING_PERCENT})",
    )
    listing = sla_commands.add_parser("list", help="a tenant's policies, active and disabled")
    listing.add_argument("tenant", help="tenant slug")
    disable = sla_commands.add_parser(
        "disable", help="stop applying a policy to new tickets (running clocks carry on)"
    )
    disable.add_argument("policy_id", type=uuid.UUID)


def run_sla(args: argparse.Namespace, settings: CliSettings) -> int:
    return run_settings_command(COMMANDS[args.sla_command], args, settings)


def _minutes(value: int | None) -> str:
    return f"{value} min" if value else "none"


def describe(policy: rules.PolicyView) -> str:
    """One tab-separated line: id, name, scope, priority, targets, clock, warning, state."""
    scope = ([f"account {policy.account}"] if policy.account else []) + (
        [f"department {policy.department}"] if policy.department else []
    )
    targets = [
        f"first response {_minutes(policy.first_response_minutes)}",
        f"resolution {_minutes(policy.resolution_minutes)}",
    ]
    if policy.business_hours:
        holidays = f", holidays {', '.join(policy.holidays)}" if policy.holidays else ""
        clock = f"business hours {policy.timezone} {show(policy.working_hours)}{holidays}"
    else:
        clock = "calendar time"
    return "\t".join(
        [
            str(policy.id),
            policy.name,
            " and ".join(scope) or "tenant-wide",
            f"priority {policy.priority or 'any'}",
            *targets,
            clock,
            f"warn at {policy.warning_percent}%",
            "active" if policy.is_active else "disabled",
        ]
    )


async def _add(sessions: Sessions, args: argparse.Namespace) -> int:
    spec = rules.PolicySpec(
        name=args.name,
        account=args.account,
        department=args.department,
        priority=args.priority,
        first_response_minutes=args.first_response_minutes,
        resolution_minutes=args.resolution_minutes,
        business_hours=args.business_hours,
        timezone=args.timezone if args.timezone is not None else "UTC",
        working_hours=args.working_hours if args.working_hours is not None else {},
        holidays=args.holiday,
        warning_percent=args.warning_percent,
    )
    policy = await rules.add_policy(sessions, args.tenant, spec)
    print(policy.id)  # alone on stdout, for scripts
    print(f"added to tenant {policy.tenant_slug}: {describe(policy)}", file=sys.stderr)
    return 0


async def _list(sessions: Sessions, args: argparse.Namespace) -> int:
    for policy in await rules.list_policies(sessions, args.tenant):
        print(describe(policy))
    return 0


async def _disable(sessions: Sessions, args: argparse.Namespace) -> int:
    policy, was_active = await rules.disable_policy(sessions, args.policy_id)
    state = "disabled" if was_active else "was already disabled"
    print(f"policy {policy.id} ({policy.name}) of tenant {policy.tenant_slug} {state}")
    return 0


COMMANDS: dict[str, SettingsCommand] = {"add": _add, "list": _list, "disable": _disable}

__all__ = ["add_sla_commands", "describe", "run_sla"]
