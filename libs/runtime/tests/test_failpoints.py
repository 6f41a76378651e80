"""Failpoints: inert by default, fatal only where named."""

from __future__ import annotations

import subprocess
import sys

import pytest
from postdesk_runtime.failpoints import ENV_VAR, actions, failpoint

SCRIPT = "from postdesk_runtime.failpoints import failpoint\nfailpoint('a.b')\nprint('survived')\n"


def run(env_value: str | None) -> subprocess.CompletedProcess[str]:
    env = {} if env_value is None else {ENV_VAR: env_value}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_actions_parses_pairs() -> None:
    """A setting is split into name -> action pairs; items without "=" are ignored."""
    assert actions("a.b=exit, c = exit,junk,") == {"a.b": "exit", "c": "exit"}


def test_inert_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without POSTDESK_FAILPOINTS a failpoint does nothing."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    failpoint("a.b")


def test_named_failpoint_exits_137() -> None:
    """A process dies with 137 at a failpoint named with "exit", and runs on past others."""
    killed = run("a.b=exit")
    assert (killed.returncode, killed.stdout) == (137, "")
    for other in (None, "x.y=exit", "a.b=log"):
        survived = run(other)
        assert (survived.returncode, survived.stdout) == (0, "survived\n"), other
