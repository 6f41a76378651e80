"""Rate limits of the raw webhook (httpx) and of the SMTP/LMTP listeners (smtplib), end to end."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from postdesk_ingest.main import create_app
from postdesk_runtime import declare_topology, make_broker

from .seeds import SeededTenant, seed_directory
from .test_smtp import listener_app, listening
from .test_webhook import (
    PARSER_QUEUE,
    mail,
    serving,
    settings,
    signed_headers,
    take_all,
)

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def acme(database_url: str, amqp_url: str) -> SeededTenant:
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    await take_all(amqp_url, PARSER_QUEUE)
    return await seed_directory(database_url, accounts=("cs", "sales"))


def raw_post(body: bytes, rcpt: str, **headers: str) -> dict[str, Any]:
    return {
        "url": "/webhooks/raw",
        "content": body,
        "params": {"rcpt": rcpt},
        "headers": signed_headers(body) | headers,
    }


async def test_raw_webhook_source_rate_answers_429_before_authentication(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """Past the client's burst /webhooks/raw answers 429 + Retry-After, even to a bad signature."""
    config = settings(
        database_url, amqp_url, blob_dir, rate_per_source="0.1/s burst 3", rate_per_tenant="off"
    )
    async with serving(create_app(config)) as client:
        answers = [await client.post(**raw_post(mail(), acme.at("cs"))) for _ in range(4)]
        unsigned = await client.post(
            "/webhooks/raw", content=mail(), headers={"Content-Type": "message/rfc822"}
        )
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    limited = answers[-1]
    assert limited.headers["retry-after"] == "10"
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.json()["status"] == 429
    assert "source" in limited.json()["detail"]
    assert unsigned.status_code == 429  # checked before the signature (and the body)
    assert len(await take_all(amqp_url, PARSER_QUEUE)) == 3


async def test_raw_webhook_tenant_rate_is_taken_after_authentication(
    acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """A bad signature takes no tenant token; past the tenant's burst the answer is 429."""
    config = settings(
        database_url, amqp_url, blob_dir, rate_per_source="off", rate_per_tenant="0.2/s burst 2"
    )
    async with serving(create_app(config)) as client:
        forged = await client.post(
            **raw_post(mail(), acme.at("cs"), **{"X-Postdesk-Signature": "sha256=" + "0" * 64})
        )
        answers = [
            await client.post(**raw_post(mail(), acme.at(local)))
            for local in ("cs", "sales", "cs+x")
        ]
        other = await client.post(**raw_post(mail(), "nobody@nowhere.example"))
    assert forged.status_code == 401
    assert [a.status_code for a in answers] == [202, 202, 429]  # one tenant, two addresses
    assert answers[-1].headers["retry-after"] == "5"
    assert "tenant" in answers[-1].json()["detail"]
    assert other.status_code == 422  # another budget: refused for its recipient, not its rate
    assert len(await take_all(amqp_url, PARSER_QUEUE)) == 2


def _mail_from_replies(port: int, attempts: int, *, lmtp: bool) -> list[tuple[int, str]]:
    """MAIL FROM answers of `attempts` transactions, one connection each."""
    replies = []
    for _ in range(attempts):
        client = smtplib.LMTP("127.0.0.1", port) if lmtp else smtplib.SMTP("127.0.0.1", port)
        with client:
            client.ehlo()
            code, text = client.mail("alice@customer.example")
            replies.append((code, text.decode()))
            if code == 250:
                rcpt_code, _ = client.rcpt("someone@nowhere.example")  # refused: no DATA
                assert rcpt_code == 550
    return replies


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
async def test_listener_source_rate_answers_451_at_mail_from(
    protocol: str, acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """Past the client's burst MAIL FROM gets 451 4.7.1 (transient: the MTA retries later)."""
    app = listener_app(
        database_url, amqp_url, blob_dir, rate_per_source="0.1/s burst 2", rate_per_tenant="off"
    )
    async with listening(app) as listeners:
        replies = await asyncio.to_thread(
            _mail_from_replies, listeners.port(protocol), 3, lmtp=protocol == "lmtp"
        )
    assert [code for code, _ in replies] == [250, 250, 451]
    assert replies[-1][1] == "4.7.1 source rate limit exceeded, try again in 10 s"


def _deliveries(port: int, transactions: list[list[str]], *, lmtp: bool) -> list[list[Any]]:
    """For each transaction on one connection: its RCPT codes, then the DATA code (or None)."""
    results: list[list[Any]] = []
    client = smtplib.LMTP("127.0.0.1", port) if lmtp else smtplib.SMTP("127.0.0.1", port)
    with client:
        client.ehlo()
        for recipients in transactions:
            assert client.mail("alice@customer.example")[0] == 250
            rcpt = [client.rcpt(r) for r in recipients]
            accepted = sum(1 for code, _ in rcpt if code == 250)
            data = None
            if accepted:
                data = client.data(mail())[0]
                for _ in range(accepted - 1 if lmtp else 0):
                    client.getreply()  # LMTP: one reply per accepted recipient
            else:
                client.rset()
            results.append([[(c, t.decode()) for c, t in rcpt], data])
    return results


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
async def test_listener_tenant_rate_answers_451_at_rcpt(
    protocol: str, acme: SeededTenant, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """A transaction takes one token per tenant; past the burst RCPT gets 451 4.7.1."""
    await take_all(amqp_url, PARSER_QUEUE)
    app = listener_app(
        database_url, amqp_url, blob_dir, rate_per_source="off", rate_per_tenant="0.1/s burst 1"
    )
    async with listening(app) as listeners:
        first, second = await asyncio.to_thread(
            _deliveries,
            listeners.port(protocol),
            [[acme.at("cs"), acme.at("sales")], [acme.at("cs")]],
            lmtp=protocol == "lmtp",
        )
    assert [c for c, _ in first[0]] == [250, 250]  # two recipients of one tenant: one token
    assert first[1] == 250
    assert second[0] == [(451, "4.7.1 tenant rate limit exceeded, try again in 10 s")]
    assert second[1] is None
    assert len(await take_all(amqp_url, PARSER_QUEUE)) == 1
