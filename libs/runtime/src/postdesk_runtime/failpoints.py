"""Failpoints: named places where a test can make the process die on the spot.

Test-only and inert unless the environment variable `POSTDESK_FAILPOINTS`
is set. It holds comma-separated `name=action` pairs; the one action is
`exit`, which ends the process at once with status 137 (as if SIGKILLed):
no cleanup, no flush, no reply to any client. Kill tests use it to stop a
service between two steps that must survive a crash, e.g.
`POSTDESK_FAILPOINTS=ingest.after_store=exit`.

The variable is read at each call, so a test may set it in a child
process's environment only. Never set it in production.
"""

from __future__ import annotations

import os

ENV_VAR = "POSTDESK_FAILPOINTS"
KILLED_STATUS = 137


def actions(setting: str) -> dict[str, str]:
    """The `name -> action` pairs of a POSTDESK_FAILPOINTS value; malformed items are ignored."""
    pairs: dict[str, str] = {}
    for item in setting.split(","):
        name, sep, action = item.partition("=")
        if sep and name.strip():
            pairs[name.strip()] = action.strip()
    return pairs


def failpoint(name: str) -> None:
    """Die here with status 137 if POSTDESK_FAILPOINTS holds `name=exit`; otherwise do nothing."""
    setting = os.environ.get(ENV_VAR)
    if not setting:
        return
    if actions(setting).get(name) == "exit":
        os._exit(KILLED_STATUS)
