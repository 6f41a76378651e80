"""Runs the floor (bench/load_floor.py) on a database and RabbitMQ virtual host of its own:
the parser and router stages as processes, then the source over the corpus, while an
observer here times each mail from its accept to ticket.assigned."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from load_floor import EXCHANGE, TABLES
from load_meters import CpuMeter, by_name, by_pids, postgres_backends_of
from load_report import OWN_BACKENDS, cpu_per_mail, latency_ms, rate, steady_window
from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase

STAGE_SCRIPT = Path(__file__).with_name("load_floor.py")


def _stage(
    stage: str, amqp_url: str, db_url: str, policy: str, pool: int
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # our own script with our own arguments
        [
            sys.executable,
            str(STAGE_SCRIPT),
            stage,
            "--amqp",
            amqp_url,
            "--db",
            db_url,
            "--policy",
            policy,
            "--pool",
            str(pool),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_ready(process: subprocess.Popen[bytes]) -> None:
    assert process.stderr is not None
    line = process.stderr.readline()
    if b"ready" not in line:
        raise RuntimeError(f"floor stage failed: {line!r} {process.stderr.read()[-2000:]!r}")


async def run_floor(
    paths: Sequence[Path], policy: str, *, pool: int, wait_seconds: float
) -> dict[str, Any]:
    """One floor run over `paths` with the parser's `policy` (compat32 or default)."""
    database, vhost = IsolatedDatabase(name=f"floor_{IsolatedDatabase().name}"), IsolatedAmqp()
    admin = await asyncpg.connect(database.admin_url)
    await admin.execute(f'CREATE DATABASE "{database.name}"')
    await admin.close()
    tables = await asyncpg.connect(database.url)
    await tables.execute(TABLES)
    await tables.close()
    amqp_url = vhost.create()
    stages: list[subprocess.Popen[bytes]] = []
    connection = None
    try:
        for stage in ("parser", "router"):
            stages.append(_stage(stage, amqp_url, database.url, policy, pool))
            await asyncio.to_thread(_wait_ready, stages[-1])
        done: dict[str, float] = {}
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=512)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(EXCHANGE, routing_key="ticket.assigned")

        async def on_assigned(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            done.setdefault(message.correlation_id or "", time.monotonic())

        await queue.consume(on_assigned, no_ack=True)
        source = _stage("source", amqp_url, database.url, policy, pool)
        stages.append(source)
        meter = CpuMeter(
            {
                "floor": by_pids(lambda: [p.pid for p in stages if p.poll() is None]),
                "postgres": by_name("postgres"),
                "rabbitmq": by_name("beam.smp"),
                "load generator": by_pids(lambda: [os.getpid()], children=False),
                OWN_BACKENDS: postgres_backends_of(database.name),
            }
        )
        with meter:
            out, err = await asyncio.to_thread(
                source.communicate, "\n".join(map(str, paths)).encode(), wait_seconds
            )
            if source.returncode != 0:
                raise RuntimeError(f"floor source failed: {err.decode()[-2000:]}")
            accepted: dict[str, float] = json.loads(out)
            deadline = time.monotonic() + wait_seconds
            while not accepted.keys() <= done.keys() and time.monotonic() < deadline:  # noqa: ASYNC110  # a clock and a condition
                await asyncio.sleep(0.1)
        completed = [done[k] for k in accepted if k in done]
        start, end, steady = steady_window(completed)
        return {
            "policy": policy,
            "count": len(paths),
            "completed": len(completed),
            "steady_mails_per_s": rate(start, end, steady),
            "latency_ms": latency_ms([done[k] - t for k, t in accepted.items() if k in done]),
            "cpu": cpu_per_mail(meter, start, end, steady),
        }
    finally:
        if connection is not None:
            await connection.close()
        for process in stages:
            if process.poll() is None:
                process.terminate()
        for process in stages:
            process.communicate(timeout=30)
        vhost.drop()
        await database.drop()
