"""Ingest mail channels: accept rate and latency of SMTP, LMTP and maildir, ingest alone.

Starts only ingest (as a process, `postdesk_cli.supervisor`) on a fresh
database and RabbitMQ virtual host, with the SMTP and LMTP listeners on and
one watched maildir, seeds the tenant that owns the corpus' recipient, and
sends the corpus through each channel in turn. Each message gets an
X-Bench-Channel header so no channel's mail dedupes against another's.
Rate limits are off.

- smtp / lmtp: `--concurrency` threads, each with one smtplib connection
  kept open (as an MTA's queue runner does), send one transaction after
  another (MAIL, RCPT, DATA). Latency is MAIL FROM sent to the 250 after
  DATA received, which ingest gives only once mail.received is confirmed.
  The corpus files end their lines with LF; on the wire they are CRLF, as
  every SMTP client sends them (smtplib converts only str messages, so the
  bench converts the bytes itself).
- maildir: every message is written to tmp/ and renamed into new/ at once
  (as a delivering MTA does); latency is a file's rename into new/ to its
  appearance in cur/ (ingest renames it only after the confirmed publish),
  seen by polling cur/ every 2 ms. The rate is files / (last in cur -
  first into new).

Prints messages/s and p50/p99 latency per channel and writes them as JSON
to bench/out/.

    uv run python bench/ingest_channels.py --count 500
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import queue
import re
import shutil
import smtplib
import sys
import threading
import time
from pathlib import Path

from pipeline import MAILBOX, ROOT, corpus, percentile, seed_tenant
from postdesk_cli.supervisor import Supervisor
from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase

CHANNELS = ("smtp", "lmtp", "maildir")
SENDER = "bench@example.org"


def summary(latencies: list[float], seconds: float, failures: dict[str, int]) -> dict[str, object]:
    latencies = sorted(latencies)
    return {
        "accepted": len(latencies),
        "failed": failures,
        "messages_per_s": round(len(latencies) / seconds, 1) if seconds > 0 else None,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
    }


def run_smtp(port: int, mails: list[bytes], concurrency: int, *, lmtp: bool) -> dict[str, object]:
    """`concurrency` connections, each sending transactions from a shared queue until it is empty."""
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for raw in mails:
        work.put(re.sub(rb"\r?\n", b"\r\n", raw))
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()

    def worker() -> None:
        client = smtplib.LMTP("127.0.0.1", port) if lmtp else smtplib.SMTP("127.0.0.1", port)
        with client:
            client.ehlo("bench.example")
            while True:
                try:
                    raw = work.get_nowait()
                except queue.Empty:
                    return
                began = time.perf_counter()
                try:
                    client.sendmail(SENDER, [MAILBOX], raw)
                except smtplib.SMTPException as error:
                    with lock:
                        key = f"{getattr(error, 'smtp_code', '')} {getattr(error, 'smtp_error', error)!r}"[
                            :120
                        ]
                        failures[key] = failures.get(key, 0) + 1
                    client.rset()
                    continue
                elapsed = time.perf_counter() - began
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summary(latencies, time.perf_counter() - began, failures)


def run_maildir(maildir: Path, mails: list[bytes], timeout: float) -> dict[str, object]:
    """Drop every message into new/ at once, then time each one until it shows up in cur/."""
    tmp, new, cur = maildir / "tmp", maildir / "new", maildir / "cur"
    names = [f"{time.time_ns()}.M{i}P{os.getpid()}.bench" for i in range(len(mails))]
    for name, raw in zip(names, mails, strict=True):
        path = tmp / name
        with path.open("wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
    dropped: dict[str, float] = {}
    for name in names:  # the rename is the delivery: a file in new/ is complete
        os.rename(tmp / name, new / name)
        dropped[name] = time.perf_counter()
    first = min(dropped.values())
    seen: dict[str, float] = {}
    deadline = first + timeout
    while len(seen) < len(names) and time.perf_counter() < deadline:
        now = time.perf_counter()
        for entry in os.listdir(cur):
            name = entry.split(":", 1)[0]
            if name in dropped and name not in seen:
                seen[name] = now
        time.sleep(0.002)
    latencies = [seen[name] - dropped[name] for name in seen]
    failures = (
        {"not in cur/ before the timeout": len(names) - len(seen)} if len(seen) < len(names) else {}
    )
    last = max(seen.values()) if seen else first
    return summary(latencies, last - first, failures)


async def main(args: argparse.Namespace) -> dict[str, object]:
    mails = corpus(ROOT / "bench" / "out", args.count, args.seed)
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    await seed_tenant(database_url)  # the listeners refuse unknown recipients at RCPT
    maildir = ROOT / "bench" / "out" / f"maildir-{database.name}"
    log = io.StringIO()
    supervisor = Supervisor(
        env={
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "BLOB_DIR": str(ROOT / "bench" / "out" / f"blobs-{database.name}"),
            "LOG_LEVEL": "WARNING",
            "INGEST_SMTP_ENABLED": "true",
            "INGEST_SMTP_PORT": str(args.smtp_port),
            "INGEST_LMTP_ENABLED": "true",
            "INGEST_LMTP_PORT": str(args.lmtp_port),
            "INGEST_SMTP_HOST": "127.0.0.1",
            "INGEST_MAILDIRS": f"{maildir}={MAILBOX}",
            "INGEST_MAILDIR_POLL_SECONDS": str(args.maildir_poll),
            "INGEST_RATE_PER_SOURCE": "off",
            "INGEST_RATE_PER_TENANT": "off",
        },
        ports={"ingest": args.port},
        sink=log,
    )
    results: dict[str, object] = {
        "count": len(mails),
        "concurrency": args.concurrency,
        "maildir_poll_seconds": args.maildir_poll,
    }
    try:
        supervisor.start("ingest")
        await asyncio.to_thread(supervisor.wait_ready, 60)
        for name in args.channels:
            tagged = [f"X-Bench-Channel: {name}\r\n".encode() + raw for raw in mails]
            if name == "maildir":
                result = await asyncio.to_thread(run_maildir, maildir, tagged, args.timeout)
            else:
                port = args.smtp_port if name == "smtp" else args.lmtp_port
                result = await asyncio.to_thread(
                    run_smtp, port, tagged, args.concurrency, lmtp=name == "lmtp"
                )
            results[name] = result
            print(name, json.dumps(result), file=sys.stderr)
    finally:
        await asyncio.to_thread(supervisor.stop_all)
        vhost.drop()
        await database.drop()
        shutil.rmtree(maildir, ignore_errors=True)
    if any(isinstance(r, dict) and r.get("failed") for r in results.values()):
        print(log.getvalue()[-5000:], file=sys.stderr)
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=28300)
    parser.add_argument("--smtp-port", type=int, default=28325)
    parser.add_argument("--lmtp-port", type=int, default=28324)
    parser.add_argument("--maildir-poll", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--channels", nargs="+", default=list(CHANNELS), choices=CHANNELS)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "out" / f"ingest-channels-{int(time.time())}.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
