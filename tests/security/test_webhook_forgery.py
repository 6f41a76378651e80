"""Webhooks, both ways, against the running ingest, gateway and notifier processes.

Incoming (ingest's signed raw-mail webhook and its provider routes):
- attacks: no signature, a made-up one, a timestamp older or newer than the replay
  window (signed correctly for it), the timestamp header edited after signing, the body
  changed after signing, a request signed with another route's secret (the raw webhook's
  secret on the Cloudflare route and the reverse, Cloudflare's key as Mailgun's), and a
  Mailgun token replayed with another body;
- pass: 401 each time, and nothing stored (no processing-log row, no blob).
- replay inside the window: the same signed request twice is idempotent by content
  (the dedupe key is the raw bytes and the envelope recipients): 202 "accepted", then
  202 "duplicate", one stored mail.

Outgoing (the gateway's webhook registration and the notifier's delivery job), with
the production default (private targets not allowed):
- attacks: URLs at loopback, private, link-local (cloud metadata), CGNAT and unspecified
  addresses, IPv4-mapped and NAT64 IPv6, decimal, hex, octal and short IPv4 spellings,
  and `localhost`;
- pass: 422 at registration, nothing saved; and a subscription saved while the tenant
  allowed private targets, pinged after it stopped allowing them, fails at delivery as
  refused while a loopback receiver the test runs hears nothing. The control: the same
  ping with private targets allowed reaches the receiver.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from postdesk_cli.demo import address
from postdesk_ingest.domain import sign
from postdesk_ingest.providers.mailgun import mailgun_signature
from postdesk_schema.logs import EmailProcessingLog
from postdesk_testing.webhook_receiver import Receiver, running_receiver
from sqlalchemy import func, select

from tests.security.processes import RunningServices, running_services

pytestmark = pytest.mark.e2e

RAW_SECRET = "forgery-raw-secret"
CLOUDFLARE_SECRET = "forgery-cloudflare-secret"
MAILGUN_KEY = "forgery-mailgun-key"
WINDOW = 300
RCPT = address("cs")
EVENT_TYPES = ["ticket.created"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def services(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServices]:
    async with running_services(
        ("ingest", "gateway", "notifier"),
        tmp_path_factory.mktemp("forgery"),
        INGEST_WEBHOOK_SECRET=RAW_SECRET,
        INGEST_CLOUDFLARE_SECRET=CLOUDFLARE_SECRET,
        INGEST_MAILGUN_SIGNING_KEY=MAILGUN_KEY,
        INGEST_REPLAY_WINDOW_SECONDS=str(WINDOW),
        WEBHOOK_INTERVAL_SECONDS="0.5",
    ) as running:
        yield running


def mail() -> bytes:
    return (
        "From: Mallory <mallory@attacker.example>\r\n"
        f"To: {RCPT}\r\n"
        f"Subject: forged {uuid.uuid4()}\r\n"
        f"Message-ID: <{uuid.uuid4()}@attacker.example>\r\n"
        "\r\nPlease wire the money.\r\n"
    ).encode()


@dataclass(frozen=True)
class Forged:
    path: str
    body: bytes
    headers: dict[str, str]
    form: dict[str, str] | None = None


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "message/rfc822",
        "X-Postdesk-Timestamp": str(timestamp),
        "X-Postdesk-Signature": sign(secret.encode(), str(timestamp), body),
    }


def raw_forgery(kind: str, body: bytes) -> Forged:
    now = int(time.time())
    plain = {"Content-Type": "message/rfc822"}
    cases = {
        "missing": Forged("/webhooks/raw", body, plain),
        "made-up": Forged(
            "/webhooks/raw",
            body,
            plain | {"X-Postdesk-Timestamp": str(now), "X-Postdesk-Signature": "v1=" + "ab" * 32},
        ),
        "stale": Forged("/webhooks/raw", body, signed_headers(RAW_SECRET, now - WINDOW - 60, body)),
        "future": Forged(
            "/webhooks/raw", body, signed_headers(RAW_SECRET, now + WINDOW + 60, body)
        ),
        "timestamp-edited": Forged(
            "/webhooks/raw",
            body,
            signed_headers(RAW_SECRET, now - 5, body) | {"X-Postdesk-Timestamp": str(now)},
        ),
        "body-altered": Forged(
            "/webhooks/raw", body, signed_headers(RAW_SECRET, now, body.replace(b"wire", b"send"))
        ),
        "cloudflare-secret-on-raw": Forged(
            "/webhooks/raw", body, signed_headers(CLOUDFLARE_SECRET, now, body)
        ),
        "raw-secret-on-cloudflare": Forged(
            "/webhooks/cloudflare", body, signed_headers(RAW_SECRET, now, body)
        ),
        "cloudflare-secret-on-mailgun": mailgun_forgery(body, key=CLOUDFLARE_SECRET),
    }
    return cases[kind]


def mailgun_forgery(body: bytes, *, key: str, token: str | None = None) -> Forged:
    timestamp, token = str(int(time.time())), token or uuid.uuid4().hex * 2
    form = {
        "recipient": RCPT,
        "sender": "mallory@attacker.example",
        "timestamp": timestamp,
        "token": token,
        "signature": mailgun_signature(key.encode(), timestamp, token),
    }
    return Forged("/webhooks/mailgun/mime", body, {}, form)


async def send(http: httpx.AsyncClient, services: RunningServices, forged: Forged) -> int:
    url = services.url("ingest") + forged.path
    if forged.form is not None:
        files: Any = {"body-mime": (None, forged.body)}
        response = await http.post(url, data=forged.form, files=files)
    else:
        response = await http.post(
            url, content=forged.body, params={"rcpt": RCPT}, headers=forged.headers
        )
    return response.status_code


async def stored(services: RunningServices) -> tuple[int, int]:
    """(processing-log rows, blob files): what ingest has kept so far."""
    async with services.engine.connect() as conn:
        rows = await conn.scalar(select(func.count()).select_from(EmailProcessingLog))
    blobs = sum(1 for path in services.blob_dir.rglob("*") if path.is_file())
    return int(rows or 0), blobs


FORGERIES = [
    "missing",
    "made-up",
    "stale",
    "future",
    "timestamp-edited",
    "body-altered",
    "cloudflare-secret-on-raw",
    "raw-secret-on-cloudflare",
    "cloudflare-secret-on-mailgun",
]


@pytest.mark.parametrize("kind", FORGERIES)
async def test_forged_incoming_webhook_is_refused_and_nothing_stored(
    services: RunningServices, kind: str
) -> None:
    """A forged, stale or re-signed request is a 401 and leaves no row and no blob."""
    before = await stored(services)
    async with httpx.AsyncClient(timeout=10) as http:
        status = await send(http, services, raw_forgery(kind, mail()))
    assert status == 401, kind
    assert await stored(services) == before, kind


async def test_replayed_mailgun_token_with_another_body_is_refused(
    services: RunningServices,
) -> None:
    """Mailgun signs the timestamp and token, not the body: a token is good once."""
    token = uuid.uuid4().hex * 2
    async with httpx.AsyncClient(timeout=10) as http:
        first = await send(http, services, mailgun_forgery(mail(), key=MAILGUN_KEY, token=token))
        assert first == 202
        before = await stored(services)
        again = await send(http, services, mailgun_forgery(mail(), key=MAILGUN_KEY, token=token))
    assert again == 401
    assert await stored(services) == before


async def test_the_same_signed_request_twice_is_stored_once(services: RunningServices) -> None:
    """A replay inside the window is idempotent by content: one stored mail."""
    body = mail()
    headers = signed_headers(RAW_SECRET, int(time.time()), body)
    url = services.url("ingest") + "/webhooks/raw"
    async with httpx.AsyncClient(timeout=10) as http:
        first = await http.post(url, content=body, params={"rcpt": RCPT}, headers=headers)
        rows_after_first = (await stored(services))[0]
        again = await http.post(url, content=body, params={"rcpt": RCPT}, headers=headers)
    assert (first.status_code, first.json()["status"]) == (202, "accepted")
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    assert again.json()["event_id"] == first.json()["event_id"]
    assert (await stored(services))[0] == rows_after_first


# --- outgoing -----------------------------------------------------------------------------

REFUSED_TARGETS = [
    "http://127.0.0.1:{port}/ok",
    "http://127.0.0.2/",
    "http://[::1]:{port}/ok",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0:{port}/ok",
    "http://[::]:{port}/ok",
    "http://[::ffff:127.0.0.1]:{port}/ok",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://2130706433:{port}/ok",
    "http://0x7f000001:{port}/ok",
    "http://0x7f.0.0.1:{port}/ok",
    "http://0177.0.0.1:{port}/ok",
    "http://127.1:{port}/ok",
    "http://localhost:{port}/ok",
    "http://LOCALHOST.:{port}/ok",
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver("unused") as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def admin(services: RunningServices) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=10) as http:
        return await services.admin_headers(http)


async def allow_private(
    http: httpx.AsyncClient, services: RunningServices, admin: dict[str, str], allowed: bool
) -> None:
    response = await http.put(
        f"{services.url('gateway')}/admin/webhook-settings",
        json={"allow_private_targets": allowed},
        headers=admin,
    )
    assert response.status_code == 200, response.text


async def register(
    http: httpx.AsyncClient, services: RunningServices, admin: dict[str, str], url: str
) -> httpx.Response:
    return await http.post(
        f"{services.url('gateway')}/admin/webhooks",
        json={"url": url, "event_types": EVENT_TYPES},
        headers=admin,
    )


@pytest.mark.parametrize("target", REFUSED_TARGETS)
async def test_webhook_url_at_an_internal_address_is_refused_at_registration(
    services: RunningServices, admin: dict[str, str], receiver: Receiver, target: str
) -> None:
    """The production default: 422 and no subscription saved."""
    url = target.format(port=receiver.port)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await register(http, services, admin, url)
        listed = await http.get(f"{services.url('gateway')}/admin/webhooks", headers=admin)
    assert response.status_code == 422, (url, response.text)
    assert "refused" in response.json()["detail"]
    assert url not in [item["url"] for item in listed.json()["items"]]


async def ping_outcome(
    http: httpx.AsyncClient, services: RunningServices, admin: dict[str, str], sub: str
) -> dict[str, Any]:
    """Queue a ping to subscription `sub` and wait until the notifier settled it."""
    base = f"{services.url('gateway')}/admin/webhooks/{sub}"
    queued = await http.post(f"{base}/test", headers=admin)
    assert queued.status_code == 202, queued.text
    delivery = queued.json()["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listed = (await http.get(f"{base}/deliveries", headers=admin)).json()["items"]
        found = next(item for item in listed if item["id"] == delivery)
        if found["status"] in ("delivered", "failed"):
            return dict(found)
        await asyncio.sleep(0.25)
    raise AssertionError(f"delivery {delivery} not settled within 20 s")


async def test_notifier_refuses_a_loopback_target_at_delivery(
    services: RunningServices, admin: dict[str, str], receiver: Receiver
) -> None:
    """Saved while allowed, pinged after: refused at delivery, the receiver hears nothing;
    with private targets allowed the same ping arrives (the notifier does deliver)."""
    async with httpx.AsyncClient(timeout=10) as http:
        await allow_private(http, services, admin, True)
        subscriptions = []
        for host in ("127.0.0.1", "localhost"):
            created = await register(http, services, admin, receiver.url("/ok", host=host))
            assert created.status_code == 201, created.text
            subscriptions.append(created.json()["id"])
        await allow_private(http, services, admin, False)
        try:
            refused = [await ping_outcome(http, services, admin, sub) for sub in subscriptions]
        finally:
            await allow_private(http, services, admin, True)
        assert receiver.received == []
        delivered = await ping_outcome(http, services, admin, subscriptions[0])
        await allow_private(http, services, admin, False)
    for outcome in refused:
        assert outcome["status"] == "failed", outcome
        assert "refused" in outcome["last_error"], outcome
    assert delivered["status"] == "delivered", delivered
    assert len(receiver.received) == 1
