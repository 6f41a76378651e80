"""A fresh PostgreSQL database and RabbitMQ virtual host for one test run.

Both servers come from the environment (`TEST_DATABASE_URL`,
`TEST_AMQP_URL`) with this machine's defaults. Virtual hosts are created
with `rabbitmqctl`, which needs to run on the broker's host as root or the
rabbitmq user; that holds on developer machines and CI here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from postdesk_schema.migrate import migrate

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + path, parts.query, parts.fragment))


@dataclass
class IsolatedDatabase:
    """A migrated database named `postdesk_t_<random>`, dropped by `drop()`."""

    admin_url: str = field(
        default_factory=lambda: os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    name: str = field(default_factory=lambda: f"postdesk_t_{uuid.uuid4().hex[:12]}")

    @property
    def url(self) -> str:
        return _with_path(self.admin_url, self.name)

    async def create(self) -> str:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()
        await asyncio.to_thread(migrate, self.url)
        return self.url

    async def drop(self) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()


@dataclass
class IsolatedAmqp:
    """A RabbitMQ virtual host `postdesk-t-<random>` the broker's guest user may use."""

    base_url: str = field(default_factory=lambda: os.environ.get("TEST_AMQP_URL", DEFAULT_AMQP_URL))
    name: str = field(default_factory=lambda: f"postdesk-t-{uuid.uuid4().hex[:12]}")

    @property
    def url(self) -> str:
        return _with_path(self.base_url, quote(self.name, safe=""))

    def _ctl(self, *args: str) -> None:
        ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
        subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)  # noqa: S603

    def create(self) -> str:
        user = urlsplit(self.base_url).username or "guest"
        self._ctl("add_vhost", self.name)
        self._ctl("set_permissions", "-p", self.name, user, ".*", ".*", ".*")
        return self.url

    def drop(self) -> None:
        self._ctl("delete_vhost", self.name)
