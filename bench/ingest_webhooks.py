"""Ingest HTTP channels: accept rate and latency of each webhook, ingest alone.

Starts only ingest (as a process, `postdesk_cli.supervisor`) on a fresh
database and RabbitMQ virtual host, with every provider configured, and
posts the corpus through each HTTP channel in turn: the generic raw
webhook, Mailgun (multipart body-mime), Postmark (JSON with RawEmail),
SendGrid Inbound Parse (raw mode, ECDSA-signed) and the Cloudflare Worker
format. Each message gets an X-Bench-Channel header so no channel's mail
dedupes against another's. Rate limits are off. Prints messages/s and
p50/p99 accept latency (request sent to 202 received) per channel, and
writes them as JSON to bench/out/.

    uv run python bench/ingest_webhooks.py --count 500
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import io
import json
import sys
import time
import uuid
from collections.abc import Callable

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pipeline import MAILBOX, ROOT, corpus, percentile, seed_tenant
from postdesk_cli.supervisor import Supervisor
from postdesk_ingest.domain import signature_headers
from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase

RAW_SECRET = "bench-webhook-secret"  # noqa: S105  # loopback-only bench stack
MAILGUN_KEY = "bench-mailgun-key"
POSTMARK_USER, POSTMARK_PASSWORD = "bench", "bench-postmark-password"
CLOUDFLARE_SECRET = "bench-cloudflare-secret"  # noqa: S105  # loopback-only bench stack
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())

Build = Callable[[str, bytes], httpx.Request]


def raw_request(base: str, raw: bytes) -> httpx.Request:
    return httpx.Request(
        "POST",
        f"{base}/webhooks/raw",
        params={"rcpt": MAILBOX},
        content=raw,
        headers={"Content-Type": "message/rfc822", **signature_headers(RAW_SECRET, raw)},
    )


def mailgun_request(base: str, raw: bytes) -> httpx.Request:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex + uuid.uuid4().hex[:18]
    signature = hmac.new(
        MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    return httpx.Request(
        "POST",
        f"{base}/webhooks/mailgun",
        data={"recipient": MAILBOX, "timestamp": timestamp, "token": token, "signature": signature},
        files={"body-mime": (None, raw)},
    )


def postmark_request(base: str, raw: bytes) -> httpx.Request:
    credentials = base64.b64encode(f"{POSTMARK_USER}:{POSTMARK_PASSWORD}".encode()).decode()
    return httpx.Request(
        "POST",
        f"{base}/webhooks/postmark",
        json={
            "OriginalRecipient": MAILBOX,
            "RawEmail": raw.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode(),
        },
        headers={"Authorization": f"Basic {credentials}"},
    )


def sendgrid_request(base: str, raw: bytes) -> httpx.Request:
    request = httpx.Request(
        "POST",
        f"{base}/webhooks/sendgrid",
        data={"envelope": json.dumps({"to": [MAILBOX], "from": "bench@example.org"})},
        files={"email": (None, raw)},
    )
    body = request.read()
    timestamp = str(int(time.time()))
    signature = SENDGRID_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    request.headers["X-Twilio-Email-Event-Webhook-Timestamp"] = timestamp
    request.headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(signature).decode()
    return request


def cloudflare_request(base: str, raw: bytes) -> httpx.Request:
    timestamp = str(int(time.time()))
    digest = hmac.new(
        CLOUDFLARE_SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256
    ).hexdigest()
    return httpx.Request(
        "POST",
        f"{base}/webhooks/cloudflare",
        params={"rcpt": MAILBOX},
        content=raw,
        headers={
            "Content-Type": "message/rfc822",
            "X-Postdesk-Timestamp": timestamp,
            "X-Postdesk-Signature": f"sha256={digest}",
        },
    )


CHANNELS: dict[str, Build] = {
    "raw": raw_request,
    "mailgun": mailgun_request,
    "postmark": postmark_request,
    "sendgrid": sendgrid_request,
    "cloudflare": cloudflare_request,
}


async def run_channel(
    base: str, build: Build, mails: list[bytes], concurrency: int
) -> dict[str, object]:
    latencies: list[float] = []
    failures: dict[int, int] = {}
    limit = asyncio.Semaphore(concurrency)

    async def send(raw: bytes, client: httpx.AsyncClient) -> None:
        async with limit:
            request = build(base, raw)  # signed now: inside the replay window
            began = time.perf_counter()
            response = await client.send(request)
            elapsed = time.perf_counter() - began
        if response.status_code == 202 and response.json()["status"] == "accepted":
            latencies.append(elapsed)
        else:
            failures[response.status_code] = failures.get(response.status_code, 0) + 1

    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        began = time.perf_counter()
        await asyncio.gather(*(send(raw, client) for raw in mails))
        seconds = time.perf_counter() - began
    latencies.sort()
    return {
        "accepted": len(latencies),
        "failed": failures,
        "messages_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
    }


async def main(args: argparse.Namespace) -> dict[str, object]:
    mails = corpus(ROOT / "bench" / "out", args.count, args.seed)
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url = await database.create()
    amqp_url = vhost.create()
    await seed_tenant(database_url)  # the raw webhook checks its recipients
    public_key = base64.b64encode(
        SENDGRID_KEY.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    log = io.StringIO()
    supervisor = Supervisor(
        env={
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "BLOB_DIR": str(ROOT / "bench" / "out" / f"blobs-{database.name}"),
            "LOG_LEVEL": "WARNING",
            "INGEST_WEBHOOK_SECRET": RAW_SECRET,
            "INGEST_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
            "INGEST_POSTMARK_USERNAME": POSTMARK_USER,
            "INGEST_POSTMARK_PASSWORD": POSTMARK_PASSWORD,
            "INGEST_SENDGRID_PUBLIC_KEY": public_key,
            "INGEST_CLOUDFLARE_SECRET": CLOUDFLARE_SECRET,
            "INGEST_RATE_PER_SOURCE": "off",
            "INGEST_RATE_PER_TENANT": "off",
        },
        ports={"ingest": args.port},
        sink=log,
    )
    results: dict[str, object] = {"count": len(mails), "concurrency": args.concurrency}
    try:
        supervisor.start("ingest")
        await asyncio.to_thread(supervisor.wait_ready, 60)
        base = f"http://127.0.0.1:{args.port}"
        for name in args.channels:
            tagged = [f"X-Bench-Channel: {name}\r\n".encode() + raw for raw in mails]
            results[name] = await run_channel(base, CHANNELS[name], tagged, args.concurrency)
            print(name, json.dumps(results[name]), file=sys.stderr)
    finally:
        await asyncio.to_thread(supervisor.stop_all)
        vhost.drop()
        await database.drop()
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
    parser.add_argument("--port", type=int, default=28200)
    parser.add_argument("--channels", nargs="+", default=list(CHANNELS), choices=list(CHANNELS))
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "out" / f"ingest-webhooks-{int(time.time())}.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
