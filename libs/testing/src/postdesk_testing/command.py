"""Running the real `postdesk` command from a test, without blocking the event loop (a
service under test may be running in it)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ran:
    status: int
    stdout: str
    stderr: str


TIMEOUT_SECONDS = 120


async def run_postdesk(*argv: str, env: dict[str, str]) -> Ran:
    """`postdesk ARGV...` from this interpreter's environment, with `env` over os.environ."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "postdesk"),
        *argv,
        env=os.environ | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=TIMEOUT_SECONDS)
    assert process.returncode is not None
    return Ran(process.returncode, stdout.decode(), stderr.decode())
