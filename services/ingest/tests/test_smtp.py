"""The SMTP and LMTP listeners with smtplib against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import hashlib
import json
import smtplib
import ssl
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar
from postdesk_ingest.main import create_app
from postdesk_ingest.smtp import Listeners
from postdesk_runtime import LocalBlobStore, declare_topology, make_broker

from .seeds import SeededTenant, seed_directory
from .test_webhook import PARSER_QUEUE, log_rows, mail, serving, settings, take_all

pytestmark = pytest.mark.integration

MAX_BYTES = 20_000
Reply = tuple[int, str]


@pytest_asyncio.fixture(loop_scope="session")
async def acme(database_url: str, amqp_url: str) -> SeededTenant:
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    return await seed_directory(database_url, accounts=("cs", "sales"))


def listener_app(database_url: str, amqp_url: str, blob_dir: Path, **overrides: Any) -> Litestar:
    options: dict[str, Any] = {
        "smtp_enabled": True,
        "lmtp_enabled": True,
        "smtp_port": 0,
        "lmtp_port": 0,
        "max_message_bytes": MAX_BYTES,
    }
    return create_app(settings(database_url, amqp_url, blob_dir, **(options | overrides)))


@asynccontextmanager
async def listening(app: Litestar) -> AsyncIterator[Listeners]:
    async with serving(app):
        yield app.state.listeners


def smtp_exchange(
    port: int, recipients: Sequence[str], body: bytes, *, lmtp: bool = False
) -> tuple[list[Reply], list[Reply]]:
    """RCPT replies and DATA replies (one, or one per accepted recipient over LMTP)."""
    client: smtplib.SMTP = (
        smtplib.LMTP("127.0.0.1", port) if lmtp else smtplib.SMTP("127.0.0.1", port, timeout=20)
    )
    with client:
        client.ehlo()
        client.mail("alice@customer.example")
        rcpt = [_text(client.rcpt(r)) for r in recipients]
        accepted = sum(1 for code, _ in rcpt if code == 250)
        if not accepted:
            return rcpt, [_text(client.docmd("DATA"))]
        replies = [_text(client.data(body))]
        if lmtp:
            replies += [_text(client.getreply()) for _ in range(accepted - 1)]
        return rcpt, replies


def _text(reply: tuple[int, bytes]) -> Reply:
    return reply[0], reply[1].decode()


async def exchange(
    port: int, recipients: Sequence[str], body: bytes, *, lmtp: bool = False
) -> tuple[list[Reply], list[Reply]]:
    # smtplib blocks: run it beside the event loop that serves the listener
    return await asyncio.to_thread(smtp_exchange, port, recipients, body, lmtp=lmtp)


async def published(amqp_url: str) -> dict[str, dict[str, Any]]:
    """mail.received envelopes waiting for the parser, keyed by event id (the queue is drained)."""
    return {str(m.message_id): json.loads(m.body) for m in await take_all(amqp_url, PARSER_QUEUE)}


async def test_smtp_mail_is_accepted_and_published(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """250 names the event id only once mail.received is in the parser's queue, with the tenant."""
    await take_all(amqp_url, PARSER_QUEUE)
    body = mail()
    async with listening(listener_app(database_url, amqp_url, blob_dir)) as listeners:
        rcpt, [(code, text)] = await exchange(
            listeners.port("smtp"), [acme.at("CS"), acme.at("sales+x")], body
        )
    assert [c for c, _ in rcpt] == [250, 250]
    assert code == 250, text
    assert text.startswith("2.0.0 OK accepted ")
    event_id = text.rsplit(" ", 1)[1]
    envelope = (await published(amqp_url))[event_id]
    assert envelope["tenant_id"] == str(acme.tenant_id)
    assert envelope["payload"]["channel"] == "smtp"
    assert envelope["payload"]["envelope_sender"] == "alice@customer.example"
    assert envelope["payload"]["envelope_recipients"] == [acme.at("cs"), acme.at("sales+x")]
    sha = hashlib.sha256(body).hexdigest()
    assert [r["status"] for r in await log_rows(database_url, sha)] == ["published"]


async def test_unknown_recipient_gets_550_and_nothing_is_stored(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """RCPT of an unknown address is refused with 550 5.1.1; with no recipient left, no DATA."""
    await take_all(amqp_url, PARSER_QUEUE)
    body = mail()
    async with listening(listener_app(database_url, amqp_url, blob_dir)) as listeners:
        rcpt, [(data_code, _)] = await exchange(
            listeners.port("smtp"), ["nobody@nowhere.example", acme.at("nobody")], body
        )
    assert [c for c, _ in rcpt] == [550, 550]
    assert rcpt[0][1].startswith("5.1.1 <nobody@nowhere.example>")
    assert data_code == 503
    sha = hashlib.sha256(body).hexdigest()
    assert not LocalBlobStore(blob_dir).path_of(f"sha256:{sha}").exists()
    assert await log_rows(database_url, sha) == []
    assert await take_all(amqp_url, PARSER_QUEUE) == []


async def test_oversize_mail_gets_552(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """A message above the size cap is answered 552 5.3.4 and not stored; SMTP and LMTP alike."""
    await take_all(amqp_url, PARSER_QUEUE)
    body = mail() + (b"y" * 900 + b"\r\n") * (MAX_BYTES // 900 + 1)
    async with listening(listener_app(database_url, amqp_url, blob_dir)) as listeners:
        _, smtp_replies = await exchange(listeners.port("smtp"), [acme.at("cs")], body)
        _, lmtp_replies = await exchange(
            listeners.port("lmtp"), [acme.at("cs"), acme.at("sales")], body, lmtp=True
        )
    assert smtp_replies == [(552, "5.3.4 Message too big")]
    assert lmtp_replies == [(552, "5.3.4 Message too big")] * 2
    sha = hashlib.sha256(body).hexdigest()
    assert not LocalBlobStore(blob_dir).path_of(f"sha256:{sha}").exists()
    assert await take_all(amqp_url, PARSER_QUEUE) == []


async def test_broker_down_gets_451_and_a_retry_succeeds(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """Without the broker's confirm the MTA hears 451 4.3.0; its retry later gets 250, once."""
    await take_all(amqp_url, PARSER_QUEUE)
    app = listener_app(database_url, amqp_url, blob_dir)
    body = mail()
    async with listening(app) as listeners:
        await app.state.broker.stop()
        _, [(code, text)] = await exchange(listeners.port("smtp"), [acme.at("cs")], body)
    assert code == 451, text
    assert text.startswith("4.3.0 the broker unavailable, try again later")
    assert await take_all(amqp_url, PARSER_QUEUE) == []

    async with listening(app) as listeners:  # the next startup connects again
        _, [(code, text)] = await exchange(listeners.port("smtp"), [acme.at("cs")], body)
    assert code == 250, text
    event_id = text.rsplit(" ", 1)[1]
    assert list(await published(amqp_url)) == [event_id]
    assert [
        r["status"] for r in await log_rows(database_url, hashlib.sha256(body).hexdigest())
    ] == ["published"]


async def test_duplicate_delivery_is_one_event(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """The same message delivered twice (an MTA retry) is published once; the second 250 says so."""
    await take_all(amqp_url, PARSER_QUEUE)
    body = mail()
    async with listening(listener_app(database_url, amqp_url, blob_dir)) as listeners:
        _, [(_, first)] = await exchange(listeners.port("smtp"), [acme.at("cs")], body)
        _, [(code, second)] = await exchange(listeners.port("smtp"), [acme.at("CS")], body)
    assert code == 250
    assert first.split()[-2:][0] == "accepted"
    assert second.split()[-2:] == ["duplicate", first.split()[-1]]
    assert list(await published(amqp_url)) == [first.split()[-1]]


async def test_lmtp_answers_once_per_recipient(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """Over LMTP each accepted recipient gets its own 250 after DATA; one mail.received carries both."""
    await take_all(amqp_url, PARSER_QUEUE)
    body = mail()
    async with listening(listener_app(database_url, amqp_url, blob_dir)) as listeners:
        rcpt, replies = await exchange(
            listeners.port("lmtp"),
            [acme.at("cs"), "nobody@nowhere.example", acme.at("sales")],
            body,
            lmtp=True,
        )
    assert [c for c, _ in rcpt] == [250, 550, 250]
    assert [c for c, _ in replies] == [250, 250]
    assert replies[0] == replies[1]
    envelope = (await published(amqp_url))[replies[0][1].rsplit(" ", 1)[1]]
    assert envelope["payload"]["channel"] == "lmtp"
    assert envelope["payload"]["envelope_recipients"] == [acme.at("cs"), acme.at("sales")]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for localhost."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # fixed arguments
        [  # openssl from PATH, as on any Debian machine
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def authenticated_send(
    port: int, recipient: str, body: bytes, *, password: str, starttls: bool
) -> tuple[list[str], Reply]:
    """EHLO features before auth, and the final reply of an AUTH-then-send attempt."""
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        client.ehlo()
        if starttls:
            client.starttls(context=ssl._create_unverified_context())  # noqa: S323  # self-signed test cert
            client.ehlo()
        features = sorted(client.esmtp_features)
        try:
            client.login("mta", password)
        except smtplib.SMTPAuthenticationError as error:
            return features, (error.smtp_code, str(error.smtp_error))
        except smtplib.SMTPNotSupportedError:
            return features, (0, "AUTH not offered")
        client.mail("alice@customer.example")
        client.rcpt(recipient)
        return features, _text(client.data(body))


async def test_starttls_and_auth(
    acme: SeededTenant,
    database_url: str,
    amqp_url: str,
    blob_dir: Path,
    certificate: tuple[Path, Path],
) -> None:
    """With a certificate and credentials, AUTH is offered only after STARTTLS and is required."""
    cert, key = certificate
    app = listener_app(
        database_url,
        amqp_url,
        blob_dir,
        smtp_tls_cert_file=cert,
        smtp_tls_key_file=key,
        smtp_auth_username="mta",
        smtp_auth_password="s3cret-password",
    )
    async with listening(app) as listeners:
        port = listeners.port("smtp")
        unauthenticated = await asyncio.to_thread(_mail_without_auth, port, acme.at("cs"))
        plain_features, plain = await asyncio.to_thread(
            authenticated_send,
            port,
            acme.at("cs"),
            mail(),
            password="s3cret-password",
            starttls=False,
        )
        _, wrong = await asyncio.to_thread(
            authenticated_send, port, acme.at("cs"), mail(), password="wrong", starttls=True
        )
        tls_features, good = await asyncio.to_thread(
            authenticated_send,
            port,
            acme.at("cs"),
            mail(),
            password="s3cret-password",
            starttls=True,
        )
    assert unauthenticated[0] == 530
    assert "starttls" in plain_features
    assert "auth" not in plain_features
    assert plain == (0, "AUTH not offered")
    assert wrong[0] == 535
    assert "auth" in tls_features
    assert good[0] == 250, good
    await take_all(amqp_url, PARSER_QUEUE)


def _mail_without_auth(port: int, recipient: str) -> Reply:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        client.ehlo()
        return _text(client.docmd("MAIL", "FROM:<alice@customer.example>"))


async def test_plaintext_auth_when_explicitly_allowed(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """INGEST_SMTP_AUTH_ALLOW_PLAINTEXT offers AUTH without TLS (tests only)."""
    app = listener_app(
        database_url,
        amqp_url,
        blob_dir,
        smtp_auth_username="mta",
        smtp_auth_password="s3cret-password",
        smtp_auth_allow_plaintext=True,
    )
    async with listening(app) as listeners:
        features, reply = await asyncio.to_thread(
            authenticated_send,
            listeners.port("smtp"),
            acme.at("cs"),
            mail(),
            password="s3cret-password",
            starttls=False,
        )
    assert "auth" in features
    assert reply[0] == 250, reply
    await take_all(amqp_url, PARSER_QUEUE)
