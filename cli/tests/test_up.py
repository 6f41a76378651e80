"""`postdesk up` as a user runs it: every service up, then a clean stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration


def postdesk_command() -> list[str]:
    return [str(Path(sys.executable).parent / "postdesk")]


def test_up_runs_every_service_and_stops_them_on_interrupt(
    database_url: str, private_amqp_url: str, tmp_path: Path
) -> None:
    """All six services and the mail sink report ready; SIGINT stops them all and `up`
    exits 0."""
    amqp_url = private_amqp_url
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BLOB_DIR": str(tmp_path / "blobs"),
        "LOG_FORMAT": "json",
        "MAILSINK_SMTP_PORT": "27725",
        "MAILSINK_DIR": str(tmp_path / "sent-mail"),
    }
    up = subprocess.Popen(
        [*postdesk_command(), "up", "--base-port", "27700"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert up.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = up.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("postdesk is up"):
            break
    assert lines, "postdesk up printed nothing"
    assert lines[-1].startswith("postdesk is up"), "".join(lines[-40:])
    children = psutil.Process(up.pid).children()
    assert len(children) == 7
    up.send_signal(signal.SIGINT)
    rest, _ = up.communicate(timeout=60)
    assert up.returncode == 0, rest[-3000:]
    assert "stopping" in rest
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
