"""Option values of the settings commands (`account`, `department`, `user`, `sla`), and
running one of them against the database.

Conventions: a text or JSON value that starts with "@" names a file to read
("@@" for a text that really starts with "@"); "off" turns an optional
number off. A value that cannot be read this way is an argparse error; a
value the rules refuse is "error: ..." on stderr. Both exit with 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from postdesk_contracts.schedule import DAYS
from postdesk_runtime.db import Sessions, make_engine, make_sessions

from postdesk_cli.routing_rules import SettingsError
from postdesk_cli.settings import CliSettings

REFUSED = 2
SettingsCommand = Callable[[Sessions, argparse.Namespace], Awaitable[int]]


def text_value(value: str) -> str:
    """The text itself, or the contents of the file "@path" names (trailing newlines dropped)."""
    if value.startswith("@@"):
        return value[1:]
    if not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {error}") from error


def json_value(value: str) -> Any:
    """JSON given inline or in the file "@path" names."""
    document = text_value(value)
    try:
        return json.loads(document)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from error


def number_or_off(value: str) -> int | None:
    """A whole number, or None for "off"."""
    if value.strip().lower() == "off":
        return None
    try:
        return int(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected a whole number or 'off', got {value!r}"
        ) from error


def on_off(value: str) -> bool:
    word = value.strip().lower()
    if word not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {value!r}")
    return word == "on"


def show(value: object) -> str:
    """A setting as the commands print it: on/off, off for a None number, compact JSON for
    mappings, and text quoted as JSON when it is empty, multi-line or padded."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "off"
    if isinstance(value, dict) and set(value) <= set(DAYS):  # working hours: mon first
        value = {day: value[day] for day in DAYS if day in value}
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    text = str(value)
    if not text or text != text.strip() or any(c in text for c in '\r\n\t"'):
        return json.dumps(text, ensure_ascii=False)
    return text


def run_settings_command(
    command: SettingsCommand, args: argparse.Namespace, settings: CliSettings
) -> int:
    """Run `command` with a session factory; a refusal prints "error: ..." and returns 2."""

    async def run() -> int:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            return await command(make_sessions(engine), args)
        except SettingsError as error:
            print(f"error: {error}", file=sys.stderr)
            return REFUSED
        finally:
            await engine.dispose()

    return asyncio.run(run())
