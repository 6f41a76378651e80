"""Services as real processes for the attacks that must meet what runs in production:
uvicorn's handling of forwarded headers, the notifier's delivery job, ingest's listeners
and every log line a process writes.

`running_services(names, directory, **env)` starts `names` with `Supervisor` on a
database and RabbitMQ virtual host of their own (their consumers take no other test's
messages), with the demo tenant seeded, and stops them when the block ends. Every line
the processes print is kept in `services.log`.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from postdesk_cli.demo import DEMO_PASSWORD, DemoInfo, address, seed_demo
from postdesk_cli.supervisor import Supervisor
from postdesk_runtime.db import make_engine, make_sessions
from postdesk_testing import IsolatedAmqp, IsolatedDatabase
from postdesk_testing.gateway_login import bearer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import free_port_block

DEMO_ADMIN = address("admin")


@dataclass
class RunningServices:
    supervisor: Supervisor
    log: io.StringIO
    engine: AsyncEngine
    demo: DemoInfo
    blob_dir: Path

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.supervisor.ports[name]}"

    async def admin_headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        """A bearer header of the demo tenant's admin, logged in through the gateway."""
        response = await http.post(
            f"{self.url('gateway')}/auth/login",
            json={"email": DEMO_ADMIN, "password": DEMO_PASSWORD},
        )
        assert response.status_code in (200, 201), response.text
        return bearer(response.json()["access_token"])


@asynccontextmanager
async def running_services(
    names: Sequence[str], directory: Path, **env: str
) -> AsyncIterator[RunningServices]:
    """`names` running and ready (see the module docstring), `env` added to their
    environment."""
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    engine = make_engine(database_url, pool_size=2)
    log = io.StringIO()
    blob_dir = directory / "blobs"
    base = free_port_block(len(names))
    supervisor = Supervisor(
        env={
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "BLOB_DIR": str(blob_dir),
            "LOG_FORMAT": "console",
            "LOG_LEVEL": "DEBUG",
            "DB_POOL_SIZE": "2",
            **env,
        },
        ports={name: base + i for i, name in enumerate(names)},
        sink=log,
    )
    try:
        demo = await seed_demo(make_sessions(engine))
        for name in names:
            supervisor.start(name)
        await asyncio.to_thread(supervisor.wait_ready, 60)
        yield RunningServices(supervisor, log, engine, demo, blob_dir)
    finally:
        await asyncio.to_thread(supervisor.stop_all, 15)
        await engine.dispose()
        vhost.drop()
        await database.drop()
