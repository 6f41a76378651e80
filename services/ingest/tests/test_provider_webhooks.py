"""Provider webhooks over HTTP against the machine's PostgreSQL and RabbitMQ, with real signatures."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from postdesk_contracts import EventType
from postdesk_contracts.topology import queue_for
from postdesk_ingest.domain import sign
from postdesk_ingest.main import create_app
from postdesk_ingest.providers.mailgun import mailgun_signature
from postdesk_ingest.settings import IngestSettings
from postdesk_parser.domain import parse_mail
from postdesk_runtime import declare_topology, make_blob_store, make_broker, make_engine
from postdesk_runtime.blobstore import BlobNotFoundError
from postdesk_testing import drain
from structlog.testing import capture_logs

from .seeds import SeededTenant, random_domain, seed_directory
from .test_webhook import serving

pytestmark = pytest.mark.integration

PARSER_QUEUE = queue_for("parser", EventType.MAIL_RECEIVED).name
MAILGUN_KEY = "mailgun-test-signing-key"
POSTMARK = ("postmark-user", "postmark-password")
POSTMARK_TOKEN = "postmark-path-token"
SENDGRID_PRIVATE = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_PRIVATE.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
CLOUDFLARE_SECRET = "cloudflare-test-secret"
RCPT_DOMAIN = random_domain()
RCPT = f"support@{RCPT_DOMAIN}"  # seeded for every test of this module (`tenant`)
UNKNOWN = "nobody@nowhere.example"


def mail(subject: str | None = None) -> bytes:
    subject = subject or f"test {uuid.uuid4()}"
    return (
        "From: Alice <alice@customer.example>\r\n"
        f"To: {RCPT}\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4()}@customer.example>\r\n"
        "\r\nHello, my order is late. caf\xe9\r\n"
    ).encode("latin-1")  # 8-bit on purpose: must arrive byte for byte


def settings(database_url: str, amqp_url: str, blob_dir: Path, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "blob_dir": blob_dir,
        "mailgun_signing_key": MAILGUN_KEY,
        "postmark_username": POSTMARK[0],
        "postmark_password": POSTMARK[1],
        "sendgrid_public_key": SENDGRID_PUBLIC,
        "cloudflare_secret": CLOUDFLARE_SECRET,
        "rate_per_source": "off",
        "rate_per_tenant": "off",
    }
    return IngestSettings(**(values | overrides))


async def take_all(amqp_url: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        return await drain(await channel.get_queue(PARSER_QUEUE, ensure=True))


async def log_rows(database_url: str, sha256: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                sa.text("SELECT status, detail FROM email_processing_logs WHERE sha256 = :sha"),
                {"sha": sha256},
            )
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session", scope="module", autouse=True)
async def tenant(database_url: str) -> SeededTenant:
    """The tenant owning RCPT: provider routes refuse mail for unknown recipients."""
    return await seed_directory(database_url, domain=RCPT_DOMAIN, accounts=("support",))


@pytest_asyncio.fixture(loop_scope="session")
async def config(database_url: str, amqp_url: str, blob_dir: Path) -> IngestSettings:
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    await take_all(amqp_url)  # start from an empty parser queue
    return settings(database_url, amqp_url, blob_dir)


# --- requests as each provider builds them -------------------------------------------------


def mailgun_request(
    raw: bytes, *, key: str = MAILGUN_KEY, token: str | None = None, rcpt: str = RCPT
) -> httpx.Request:
    timestamp, token = str(int(time.time())), token or uuid.uuid4().hex + uuid.uuid4().hex[:18]
    fields = {
        "recipient": rcpt,
        "sender": "alice@customer.example",
        "timestamp": timestamp,
        "token": token,
        "signature": mailgun_signature(key.encode(), timestamp, token),
    }
    return httpx.Request(
        "POST",
        "http://ingest/webhooks/mailgun/mime",
        data=fields,
        files={"body-mime": (None, raw)},  # a form field, as Mailgun sends it
    )


def sendgrid_request(
    raw: bytes, *, private: ec.EllipticCurvePrivateKey = SENDGRID_PRIVATE, rcpt: str = RCPT
) -> httpx.Request:
    request = httpx.Request(
        "POST",
        "http://ingest/webhooks/sendgrid",
        data={
            "envelope": json.dumps({"to": [rcpt], "from": "alice@customer.example"}),
            "charsets": "{}",
        },
        files={"email": (None, raw)},
    )
    body = request.read()
    timestamp = str(int(time.time()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    request.headers["X-Twilio-Email-Event-Webhook-Timestamp"] = timestamp
    request.headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(signature).decode()
    return request


def postmark_request(
    raw: bytes | None, *, auth: tuple[str, str] = POSTMARK, rcpt: str = RCPT, **fields: Any
) -> httpx.Request:
    payload: dict[str, Any] = {
        "OriginalRecipient": rcpt,
        "ToFull": [{"Email": rcpt, "Name": ""}],
        "Subject": "ignored when RawEmail is there",
    } | fields
    if raw is not None:
        payload["RawEmail"] = raw.decode("latin-1")
    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return httpx.Request(
        "POST",
        "http://ingest/webhooks/postmark",
        json=payload,
        headers={"Authorization": f"Basic {credentials}"},
    )


def cloudflare_request(
    raw: bytes, *, secret: str = CLOUDFLARE_SECRET, rcpt: str = RCPT
) -> httpx.Request:
    timestamp = str(int(time.time()))
    return httpx.Request(
        "POST",
        "http://ingest/webhooks/cloudflare",
        params={"rcpt": rcpt},
        content=raw,
        headers={
            "Content-Type": "message/rfc822",
            "X-Postdesk-Timestamp": timestamp,
            "X-Postdesk-Signature": sign(secret.encode(), timestamp, raw),
        },
    )


# Postmark's RawEmail is text: the test mail's 8-bit bytes come back as UTF-8 there
def postmark_bytes(raw: bytes) -> bytes:
    return raw.decode("latin-1").encode("utf-8")


GOOD = {
    "mailgun": (lambda raw: mailgun_request(raw), lambda raw: raw),
    "postmark": (lambda raw: postmark_request(raw), postmark_bytes),
    "sendgrid": (lambda raw: sendgrid_request(raw), lambda raw: raw),
    "cloudflare": (lambda raw: cloudflare_request(raw), lambda raw: raw),
}
UNKNOWN_RECIPIENT = {
    "mailgun": lambda raw: mailgun_request(raw, rcpt=UNKNOWN),
    "postmark": lambda raw: postmark_request(raw, rcpt=UNKNOWN),
    "sendgrid": lambda raw: sendgrid_request(raw, rcpt=UNKNOWN),
    "cloudflare": lambda raw: cloudflare_request(raw, rcpt=UNKNOWN),
}
BAD = {
    "mailgun": lambda raw: mailgun_request(raw, key="not-the-key"),
    "postmark": lambda raw: postmark_request(raw, auth=(POSTMARK[0], "wrong")),
    "sendgrid": lambda raw: sendgrid_request(raw, private=ec.generate_private_key(ec.SECP256R1())),
    "cloudflare": lambda raw: cloudflare_request(raw, secret="not-the-secret"),
}


@pytest.mark.parametrize("provider", list(GOOD))
async def test_signed_post_is_accepted_and_published(
    provider: str, config: IngestSettings, database_url: str, amqp_url: str, tenant: SeededTenant
) -> None:
    """A signed post to a known address: 202 once mail.received (source, tenant) is queued."""
    build, stored_as = GOOD[provider]
    raw = mail()
    expected = stored_as(raw)
    sha = hashlib.sha256(expected).hexdigest()
    async with serving(create_app(config)) as client:
        response = await client.send(build(raw))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted"
    assert await make_blob_store(config).get(f"sha256:{sha}") == expected
    [message] = await take_all(amqp_url)
    envelope = json.loads(message.body)
    assert message.message_id == response.json()["event_id"]
    assert envelope["payload"]["sha256"] == sha
    assert envelope["payload"]["source"] == provider
    assert envelope["payload"]["envelope_recipients"] == [RCPT]
    assert envelope["tenant_id"] == str(tenant.tenant_id)
    assert await log_rows(database_url, sha) == [{"status": "published", "detail": provider}]


@pytest.mark.parametrize("provider", list(UNKNOWN_RECIPIENT))
async def test_post_to_an_unknown_address_is_recorded_as_rejected(
    provider: str, config: IngestSettings, database_url: str, amqp_url: str
) -> None:
    """A signed post for nobody we know: 422 problem (Mailgun: 406, its "do not retry"), raw blob kept,
    log row "rejected", no publish."""
    raw = mail()
    sha = hashlib.sha256(GOOD[provider][1](raw)).hexdigest()
    async with serving(create_app(config)) as client:
        response = await client.send(UNKNOWN_RECIPIENT[provider](raw))
    assert response.status_code == (406 if provider == "mailgun" else 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["unknown_recipients"] == [UNKNOWN]
    assert problem["raw_blob_ref"] == f"sha256:{sha}"
    assert await make_blob_store(config).get(problem["raw_blob_ref"]) == GOOD[provider][1](raw)
    assert await log_rows(database_url, sha) == [
        {"status": "rejected", "detail": f"unknown recipients: {UNKNOWN}"}
    ]
    assert await take_all(amqp_url) == []


@pytest.mark.parametrize("provider", list(BAD))
async def test_wrong_signature_is_refused_and_nothing_stored(
    provider: str, config: IngestSettings, database_url: str, amqp_url: str
) -> None:
    """A wrong signature or credential gets 401, a warning, and stores nothing."""
    raw = mail()
    with capture_logs() as logs:
        async with serving(create_app(config)) as client:
            response = await client.send(BAD[provider](raw))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["event"] for e in warnings] == ["webhook signature rejected"]
    assert warnings[0]["reason"].startswith(provider)
    for sha in {hashlib.sha256(raw).hexdigest(), hashlib.sha256(postmark_bytes(raw)).hexdigest()}:
        assert await log_rows(database_url, sha) == []
        with pytest.raises(BlobNotFoundError):
            await make_blob_store(config).get(f"sha256:{sha}")
    assert await take_all(amqp_url) == []


async def test_missing_signatures_are_refused(config: IngestSettings, amqp_url: str) -> None:
    """Posts without any signature or credentials get 401 on every provider route."""
    async with serving(create_app(config)) as client:
        for path in ("mailgun", "postmark", "sendgrid", "cloudflare"):
            response = await client.post(
                f"/webhooks/{path}", files={"body-mime": (None, mail()), "email": (None, mail())}
            )
            assert response.status_code == 401, path
    assert await take_all(amqp_url) == []


async def test_replayed_mailgun_token_is_refused(config: IngestSettings, amqp_url: str) -> None:
    """The same Mailgun token (signature over timestamp+token only) cannot carry a second message."""
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]
    async with serving(create_app(config)) as client:
        first = await client.send(mailgun_request(mail(), token=token))
        replay = await client.send(mailgun_request(mail(), token=token))
    assert (first.status_code, replay.status_code) == (202, 401)
    assert len(await take_all(amqp_url)) == 1


async def test_mailgun_token_is_released_when_not_accepted(
    database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """A post that fails with 503 may be retried by Mailgun with the same token."""
    app = create_app(settings(database_url, amqp_url, blob_dir))
    token = uuid.uuid4().hex
    raw = mail()
    async with serving(app) as client:
        await app.state.broker.stop()
        failed = await client.send(mailgun_request(raw, token=token))
    assert failed.status_code == 503
    async with serving(app) as client:
        retried = await client.send(mailgun_request(raw, token=token))
    assert retried.status_code == 202
    assert len(await take_all(amqp_url)) == 1


async def test_postmark_json_without_raw_email_is_rebuilt(
    config: IngestSettings, amqp_url: str
) -> None:
    """Without RawEmail the JSON fields become a MIME message the parser reads; a retry dedupes."""
    fields = {
        "FromFull": {"Email": "alice@customer.example", "Name": "Alice"},
        "To": RCPT,
        "Subject": "Invoice question",
        "MessageID": str(uuid.uuid4()),
        "Date": "Thu, 5 Apr 2012 16:59:01 +0200",
        "TextBody": "Please see the invoice.",
        "HtmlBody": "<p>Please see the invoice.</p>",
        "Headers": [{"Name": "Message-ID", "Value": f"<{uuid.uuid4()}@customer.example>"}],
        "Attachments": [
            {
                "Name": "invoice.pdf",
                "Content": base64.b64encode(b"%PDF-1.4 test").decode(),
                "ContentType": "application/pdf",
            }
        ],
    }
    async with serving(create_app(config)) as client:
        response = await client.send(postmark_request(None, **fields))
        again = await client.send(postmark_request(None, **fields))
    assert response.status_code == 202, response.text
    assert again.json()["status"] == "duplicate"
    [message] = await take_all(amqp_url)
    ref = json.loads(message.body)["payload"]["raw_blob_ref"]
    parsed = parse_mail(await make_blob_store(config).get(ref))
    assert parsed.subject == "Invoice question"
    assert parsed.from_.email == "alice@customer.example"
    assert parsed.text is not None
    assert "Please see the invoice." in parsed.text
    assert [(a.filename, a.data) for a in parsed.attachments] == [("invoice.pdf", b"%PDF-1.4 test")]


async def test_postmark_path_token(database_url: str, amqp_url: str, blob_dir: Path) -> None:
    """With INGEST_POSTMARK_TOKEN only, the token path segment authenticates."""
    app = create_app(
        settings(
            database_url,
            amqp_url,
            blob_dir,
            postmark_username=None,
            postmark_password=None,
            postmark_token=POSTMARK_TOKEN,
        )
    )
    raw = mail()
    async with serving(app) as client:
        wrong = await client.post(
            "/webhooks/postmark/nope", json={"RawEmail": raw.decode("latin-1")}
        )
        right = await client.post(
            f"/webhooks/postmark/{POSTMARK_TOKEN}",
            json={"RawEmail": raw.decode("latin-1"), "OriginalRecipient": RCPT},
        )
    assert (wrong.status_code, right.status_code) == (401, 202)
    assert len(await take_all(amqp_url)) == 1


async def test_unconfigured_providers_answer_404(
    database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """A provider without a configured secret has no route: 404, nothing accepted."""
    app = create_app(
        settings(
            database_url,
            amqp_url,
            blob_dir,
            mailgun_signing_key=None,
            postmark_username=None,
            postmark_password=None,
            sendgrid_public_key=None,
            cloudflare_secret=None,
        )
    )
    async with serving(app) as client:
        for build, _ in GOOD.values():
            assert (await client.send(build(mail()))).status_code == 404
    assert await take_all(amqp_url) == []


async def test_rate_limit_answers_429_after_the_burst(
    database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """Past the source's burst the answer is 429 with Retry-After and a problem body."""
    app = create_app(settings(database_url, amqp_url, blob_dir, rate_per_source="0.2/s burst 3"))
    async with serving(app) as client:
        answers = [await client.send(cloudflare_request(mail())) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    limited = answers[-1]
    assert limited.headers["retry-after"] == "5"
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.json()["status"] == 429
    assert len(await take_all(amqp_url)) == 3


async def test_tenant_rate_limit(database_url: str, amqp_url: str, blob_dir: Path) -> None:
    """Mail for one tenant shares one budget across providers; the answer is 429 too."""
    app = create_app(settings(database_url, amqp_url, blob_dir, rate_per_tenant="0.1/s burst 1"))
    async with serving(app) as client:
        first = await client.send(cloudflare_request(mail()))
        second = await client.send(mailgun_request(mail()))
    assert (first.status_code, second.status_code) == (202, 429)
    assert "tenant" in second.json()["detail"]
    assert len(await take_all(amqp_url)) == 1


async def test_oversized_messages_get_413(database_url: str, amqp_url: str, blob_dir: Path) -> None:
    """Above INGEST_MAX_MESSAGE_BYTES every provider route answers 413 and stores nothing."""
    app = create_app(settings(database_url, amqp_url, blob_dir, max_message_bytes=2000))
    big = mail() + b"x" * 3000
    async with serving(app) as client:
        for build, _ in GOOD.values():
            assert (await client.send(build(big))).status_code == 413
    assert await take_all(amqp_url) == []
