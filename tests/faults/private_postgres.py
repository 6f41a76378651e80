"""A PostgreSQL cluster of one test's own, which the test may stop and start at will.

The machine's shared server is used by other tests and sessions, so a
scenario that takes PostgreSQL down must never touch it. `private_postgres`
runs `initdb` into a temporary directory with the installed server binaries
(`/usr/lib/postgresql/<version>/bin`, or `PG_BIN_DIR`), listening on
127.0.0.1 only, on a free port, trust authentication, its socket in the
same directory; and it always stops the cluster and removes the directory
on the way out, whatever happened in between.

PostgreSQL refuses to run as root: under root, every command runs as the
`postgres` OS user (`runuser`), which then owns the directory.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from postdesk_schema.migrate import migrate

PG_USER = "postgres"
SUPERUSER = "postgres"


def server_bin_dir() -> Path:
    """`PG_BIN_DIR`, else the newest `/usr/lib/postgresql/<major>/bin` that has `pg_ctl`."""
    if configured := os.environ.get("PG_BIN_DIR"):
        return Path(configured)
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise FileNotFoundError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivatePostgres:
    """One initialised cluster in `root` (data in `root/data`, its log in `root/server.log`)."""

    bin_dir: Path
    root: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", PG_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.log_file.read_text()[-4000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({done.returncode}): "
                f"{done.stdout}{done.stderr}\n--- server log ---\n{log}"
            )

    def initdb(self) -> None:
        self._run(
            "initdb",
            *("-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust"),
            *("--encoding=UTF8", "--locale=C", "--no-sync"),
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "60",
            "shared_buffers": "'32MB'",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# a private test cluster (tests/faults/private_postgres.py)\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self, timeout: int = 30) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(
            "pg_ctl",
            *("start", "-D", str(self.data_dir), "-l", str(self.log_file)),
            *("-w", "-t", str(timeout)),
            timeout=timeout + 10,
        )

    def stop(self, mode: str = "fast", timeout: int = 30) -> None:
        """Stop the server (`fast`: sessions are cut, transactions rolled back) and wait."""
        self._run(
            "pg_ctl",
            *("stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", str(timeout)),
            timeout=timeout + 10,
        )

    @property
    def running(self) -> bool:
        """`pg_ctl status`: 0 while a server runs on the data directory, 3 when none does."""
        command = [str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", PG_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=30, check=False)
        return done.returncode == 0

    async def create_database(self, name: str) -> str:
        """Create `name` and migrate it to head; its URL."""
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        url = self.url(name)
        await asyncio.to_thread(migrate, url)
        return url


@contextmanager
def private_postgres(bin_dir: Path | None = None) -> Iterator[PrivatePostgres]:
    """A started private cluster; stopped (forcibly if need be) and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="pd-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(PG_USER)
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PrivatePostgres(bin_dir or server_bin_dir(), root, free_port())
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        try:
            if cluster.running:
                try:
                    cluster.stop("fast", timeout=20)
                except (RuntimeError, subprocess.TimeoutExpired):
                    cluster.stop("immediate", timeout=20)
        finally:
            shutil.rmtree(root, ignore_errors=True)
