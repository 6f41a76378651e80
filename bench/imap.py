"""IMAP channel load: N corpus messages in a real Dovecot, read by the ingest poller.

Starts a private Dovecot (the test helper services/ingest/tests/dovecot.py),
a fresh database and RabbitMQ virtual host, appends the corpus to one
mailbox, and runs `ImapPoller` in this process until every message is
accepted (stored, logged, mail.received confirmed, flagged \\Seen, position
advanced). Prints messages/s fetched-and-accepted and the per-message time
(the gap between consecutive confirmed publishes of the mailbox's sequential
loop: fetch share + accept + flag + position), and writes them as JSON.

    uv run python bench/imap.py --count 1000
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from imap_tools import MailBoxUnencrypted
from opentelemetry import trace
from postdesk_contracts import Envelope
from postdesk_ingest.imap import ImapPoller, ImapSettings, seal_imap_password
from postdesk_ingest.service import Ports
from postdesk_runtime import (
    EventPublisher,
    LocalBlobStore,
    declare_topology,
    make_broker,
    make_engine,
    make_sessions,
)
from postdesk_runtime.keyring import Keyring
from postdesk_schema import EmailAccount, ImapMailbox, Tenant
from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from pipeline import corpus  # noqa: E402  # the shared corpus loader of bench/pipeline.py


def load_dovecot() -> Any:
    spec = importlib.util.spec_from_file_location(
        "dovecot", ROOT / "services" / "ingest" / "tests" / "dovecot.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dovecot"] = module
    spec.loader.exec_module(module)
    return module.Dovecot


class TimingPublisher(EventPublisher):
    def __init__(self, inner: EventPublisher) -> None:
        self._inner = inner
        self.times: list[float] = []

    async def publish(self, envelope: Envelope[Any]) -> None:
        await self._inner.publish(envelope)
        self.times.append(time.perf_counter())


async def run(count: int, batch: int) -> dict[str, Any]:
    messages = corpus(ROOT / "bench" / "out", count, None)
    dovecot = load_dovecot()(users={"bench@imap.example": "bench"})
    dovecot.start()
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url, amqp_url = await database.create(), vhost.create()
    engine = make_engine(database_url, pool_size=4)
    broker = make_broker(amqp_url)
    keyring = Keyring.from_setting(Keyring.generate_setting("bench"))
    try:
        started = time.perf_counter()

        def append() -> None:
            with MailBoxUnencrypted(dovecot.host, dovecot.port).login(
                "bench@imap.example", "bench", initial_folder=None
            ) as mailbox:
                for raw in messages:
                    mailbox.append(raw, "INBOX", flag_set=())

        await asyncio.to_thread(append)
        append_seconds = time.perf_counter() - started
        await broker.connect()
        await declare_topology(broker)
        sessions = make_sessions(engine)
        async with sessions() as session, session.begin():
            tenant = Tenant(name="Bench", slug="bench")
            session.add(tenant)
            await session.flush()
            account = EmailAccount(tenant_id=tenant.id, address="support@bench.example")
            session.add(account)
            await session.flush()
            session.add(
                ImapMailbox(
                    tenant_id=tenant.id,
                    account_id=account.id,
                    host=dovecot.host,
                    port=dovecot.port,
                    security="plain",
                    username="bench@imap.example",
                    password_ciphertext=seal_imap_password(keyring, "bench"),
                    poll_interval_seconds=1,
                )
            )
        publisher = TimingPublisher(EventPublisher(broker))
        with tempfile.TemporaryDirectory(prefix="postdesk-bench-blobs-") as blob_dir:
            ports = Ports(
                blobs=LocalBlobStore(Path(blob_dir)),
                sessions=sessions,
                publisher=publisher,
                tracer=trace.NoOpTracer(),
            )
            settings = ImapSettings(claim_interval_seconds=0.1, fetch_batch=batch)
            poller = ImapPoller(ports=ports, keyring=keyring, settings=settings)
            began = time.perf_counter()
            await poller.start()
            while len(publisher.times) < count:
                await asyncio.sleep(0.05)
                if time.perf_counter() - began > 600:
                    raise RuntimeError(f"only {len(publisher.times)} of {count} in 600 s")
            await poller.stop()
        first_claim_to_last = publisher.times[-1] - began
        gaps = [b - a for a, b in zip(publisher.times, publisher.times[1:], strict=False)]
        quantiles = statistics.quantiles(gaps, n=100)
        return {
            "count": count,
            "fetch_batch": batch,
            "append_seconds": round(append_seconds, 2),
            "seconds": round(first_claim_to_last, 2),
            "messages_per_second": round(count / first_claim_to_last, 1),
            "per_message_ms": {
                "p50": round(quantiles[49] * 1000, 2),
                "p95": round(quantiles[94] * 1000, 2),
                "p99": round(quantiles[98] * 1000, 2),
                "max": round(max(gaps) * 1000, 2),
            },
        }
    finally:
        await broker.stop()
        await engine.dispose()
        await database.drop()
        vhost.drop()
        dovecot.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10, help="INGEST_IMAP_FETCH_BATCH")
    args = parser.parse_args()
    result = asyncio.run(run(args.count, args.batch))
    out = ROOT / "bench" / "out" / f"imap-{args.count}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
