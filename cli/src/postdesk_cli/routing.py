"""`postdesk account|department|user ...`: the router's settings of mailboxes, departments
and people.

    postdesk account show ADDRESS [--json]
    postdesk account set ADDRESS [--auto-reply on|off] [--auto-reply-message TEXT|@file]
        [--auto-reply-subject TEXT] [--auto-reply-schedule always|outside_hours]
        [--auto-reply-window-minutes N] [--signature TEXT|@file] [--timezone TZ]
        [--working-hours JSON|@file] [--reopen-policy reopen|follow_up]
        [--subject-match-days N|off] [--reassign-after-minutes N|off]
    postdesk department list TENANT-SLUG
    postdesk department set TENANT-SLUG NAME --routing primary|round_robin|least_open|priority
    postdesk user hours LOGIN [--timezone TZ] [--working-hours JSON|@file]

The rules are in `postdesk_cli.routing_rules`; this module parses and
prints. The router reads these settings for every mail, so a change applies
to the next mail routed. What each setting does: docs/routing.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from postdesk_runtime.db import Sessions

from postdesk_cli import routing_rules as rules
from postdesk_cli.arguments import (
    SettingsCommand,
    json_value,
    number_or_off,
    on_off,
    run_settings_command,
    show,
    text_value,
)
from postdesk_cli.settings import CliSettings

COMMAND_NAMES = ("account", "department", "user")
HOURS_HELP = 'JSON or @file: {"mon": [["09:00", "17:00"]], ...}, days mon..sun, HH:MM local times'
ALWAYS_HELP = HOURS_HELP + "; {} means always"
# option dest -> account column
_ACCOUNT_OPTIONS = {
    "auto_reply": "auto_reply_enabled",
    "auto_reply_message": "auto_reply_message",
    "auto_reply_subject": "auto_reply_subject",
    "auto_reply_schedule": "auto_reply_schedule",
    "auto_reply_window_minutes": "auto_reply_window_minutes",
    "signature": "signature",
    "timezone": "timezone",
    "working_hours": "working_hours",
    "reopen_policy": "reopen_policy",
    "subject_match_days": "subject_match_days",
    "reassign_after_minutes": "reassign_after_minutes",
}
_SHOWN = tuple(f.name for f in dataclasses.fields(rules.AccountChanges))


def add_routing_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = commands.add_parser("account", help="an email account's routing settings")
    account_commands = account.add_subparsers(dest="routing_command", required=True)
    show_account = account_commands.add_parser("show", help="print an account's settings")
    show_account.add_argument("address")
    show_account.add_argument("--json", action="store_true", help="one JSON object")
    set_account = account_commands.add_parser(
        "set", help="change an account's settings (all given ones, or none)"
    )
    set_account.add_argument("address")
    _add_account_options(set_account)

    department = commands.add_parser("department", help="departments' assignment strategies")
    department_commands = department.add_subparsers(dest="routing_command", required=True)
    listing = department_commands.add_parser("list", help="a tenant's departments")
    listing.add_argument("tenant", help="tenant slug")
    set_department = department_commands.add_parser(
        "set", help="set how a department assigns new tickets"
    )
    set_department.add_argument("tenant", help="tenant slug")
    set_department.add_argument("name", help="department name")
    set_department.add_argument("--routing", required=True, choices=rules.ROUTING_STRATEGIES)

    user = commands.add_parser("user", help="people's working hours, for assignment")
    user_commands = user.add_subparsers(dest="routing_command", required=True)
    hours = user_commands.add_parser(
        "hours", help="print a user's working hours, or set them with the options"
    )
    hours.add_argument("login", help="the user's login email")
    hours.add_argument("--timezone", default=rules.UNSET, help="IANA name, e.g. Europe/Berlin")
    hours.add_argument(
        "--working-hours",
        type=json_value,
        default=rules.UNSET,
        metavar="JSON|@file",
        help=ALWAYS_HELP,
    )


def _add_account_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--auto-reply", type=on_off, metavar="on|off")
    parser.add_argument("--auto-reply-message", type=text_value, metavar="TEXT|@file")
    parser.add_argument(
        "--auto-reply-subject",
        metavar="TEXT",
        help="one line; empty: 'Re: <ticket subject>' (tag added)",
    )
    parser.add_argument("--auto-reply-schedule", choices=rules.AUTO_REPLY_SCHEDULES)
    parser.add_argument(
        "--auto-reply-window-minutes",
        type=int,
        metavar="N",
        help="one auto-reply per sender in N minutes; 0: no window (the caps still apply)",
    )
    parser.add_argument(
        "--signature", type=text_value, metavar="TEXT|@file", help="ends the auto-reply"
    )
    parser.add_argument("--timezone", help="IANA name of the working hours' zone")
    parser.add_argument("--working-hours", type=json_value, metavar="JSON|@file", help=ALWAYS_HELP)
    parser.add_argument("--reopen-policy", choices=rules.REOPEN_POLICIES)
    parser.add_argument(
        "--subject-match-days",
        type=number_or_off,
        metavar="N|off",
        help="thread a sender's mail by subject onto their ticket active in N days",
    )
    parser.add_argument(
        "--reassign-after-minutes",
        type=number_or_off,
        metavar="N|off",
        help="reassign an open ticket whose customer waited N minutes for an answer",
    )
    # UNSET, not None, marks an option not given: "off" gives None
    parser.set_defaults(**dict.fromkeys(_ACCOUNT_OPTIONS, rules.UNSET))


def run_routing(args: argparse.Namespace, settings: CliSettings) -> int:
    return run_settings_command(COMMANDS[(args.command, args.routing_command)], args, settings)


def _account_changes(args: argparse.Namespace) -> rules.AccountChanges:
    given: dict[str, Any] = {column: getattr(args, o) for o, column in _ACCOUNT_OPTIONS.items()}
    return rules.AccountChanges(**given)


async def _account_show(sessions: Sessions, args: argparse.Namespace) -> int:
    view = await rules.show_account(sessions, args.address)
    if args.json:
        print(json.dumps(dataclasses.asdict(view), ensure_ascii=False, indent=2))
        return 0
    state = "active" if view.is_active else "inactive"
    print(f"{view.address} (tenant {view.tenant_slug}, {view.kind}, {state})")
    department = (
        f"{view.department} (routing {view.routing_strategy})" if view.department else "none"
    )
    print(f"department: {department}")
    for name in _SHOWN:
        print(f"{name}: {show(getattr(view, name))}")
    return 0


async def _account_set(sessions: Sessions, args: argparse.Namespace) -> int:
    changes = _account_changes(args)
    before, after = await rules.update_account(sessions, args.address, changes)
    print(f"{after.address} (tenant {after.tenant_slug}):")
    for name in changes.given():
        old, new = show(getattr(before, name)), show(getattr(after, name))
        print(f"  {name}: {old} -> {new}" if old != new else f"  {name}: {new} (unchanged)")
    return 0


async def _department_list(sessions: Sessions, args: argparse.Namespace) -> int:
    for view in await rules.list_departments(sessions, args.tenant):
        print(f"{view.name}\t{view.routing_strategy}\t{', '.join(view.accounts) or '-'}")
    return 0


async def _department_set(sessions: Sessions, args: argparse.Namespace) -> int:
    before, view = await rules.set_department_routing(
        sessions, args.tenant, args.name, args.routing
    )
    change = (
        f"{before} -> {view.routing_strategy}"
        if before != view.routing_strategy
        else (f"{view.routing_strategy} (unchanged)")
    )
    print(f"department {view.name!r} of tenant {view.tenant_slug}: routing {change}")
    return 0


def _describe_hours(hours: rules.UserHours) -> str:
    working = show(hours.working_hours) if hours.working_hours else "always available"
    return f"timezone {hours.timezone}, working hours {working}"


async def _user_hours(sessions: Sessions, args: argparse.Namespace) -> int:
    if args.timezone is rules.UNSET and args.working_hours is rules.UNSET:
        view = await rules.user_hours(sessions, args.login)
        print(f"{view.email} (tenant {view.tenant_slug}): {_describe_hours(view)}")
        return 0
    before, after = await rules.set_user_hours(
        sessions,
        args.login,
        timezone=args.timezone,
        working_hours=args.working_hours,
    )
    print(f"{after.email} (tenant {after.tenant_slug}):")
    print(f"  was {_describe_hours(before)}")
    print(f"  now {_describe_hours(after)}")
    return 0


COMMANDS: dict[tuple[str, str], SettingsCommand] = {
    ("account", "show"): _account_show,
    ("account", "set"): _account_set,
    ("department", "list"): _department_list,
    ("department", "set"): _department_set,
    ("user", "hours"): _user_hours,
}

__all__ = ["COMMAND_NAMES", "add_routing_commands", "run_routing"]
