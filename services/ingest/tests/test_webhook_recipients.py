"""The raw webhook with the recipient directory: unknown recipients refused, tenant named."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from litestar import Litestar
from postdesk_ingest.main import create_app
from postdesk_runtime import LocalBlobStore, declare_topology, make_broker

from .seeds import seed_directory
from .test_webhook import PARSER_QUEUE, log_rows, mail, serving, settings, signed_headers, take_all

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def app(database_url: str, amqp_url: str, blob_dir: Path) -> AsyncIterator[Litestar]:
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    await broker.stop()
    await take_all(amqp_url, PARSER_QUEUE)
    yield create_app(settings(database_url, amqp_url, blob_dir))


async def published(amqp_url: str, event_id: str) -> list[dict[str, object]]:
    """The mail.received envelopes with `event_id` waiting for the parser (the queue is drained)."""
    messages = await take_all(amqp_url, PARSER_QUEUE)
    return [json.loads(m.body) for m in messages if m.message_id == event_id]


async def test_only_unknown_recipients_get_422_and_a_rejected_row(
    app: Litestar, database_url: str, amqp_url: str, blob_dir: Path
) -> None:
    """Mail for nobody we know is stored and logged as rejected, answered 422, never published."""
    body = mail()
    sha = hashlib.sha256(body).hexdigest()
    async with serving(app) as client:
        response = await client.post(
            "/webhooks/raw",
            content=body,
            params=[("rcpt", "Nobody@Nowhere.example"), ("rcpt", "x@nowhere.example")],
            headers=signed_headers(body),
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["unknown_recipients"] == ["nobody@nowhere.example", "x@nowhere.example"]
    assert problem["raw_blob_ref"] == f"sha256:{sha}"
    assert (
        LocalBlobStore(blob_dir).path_of(problem["raw_blob_ref"]).exists()
    )  # kept (maybe encrypted)
    [row] = await log_rows(database_url, sha)
    assert (row["stage"], row["status"], row["event_id"]) == ("ingest", "rejected", None)
    assert await take_all(amqp_url, PARSER_QUEUE) == []


async def test_one_known_recipient_is_enough_and_names_the_tenant(
    app: Litestar, database_url: str, amqp_url: str
) -> None:
    """Plus-addressed and catch-all recipients of one tenant: 202 and mail.received.tenant_id set."""
    acme = await seed_directory(database_url, inbound_domain=True, catch_all="cs")
    body = mail()
    async with serving(app) as client:
        response = await client.post(
            "/webhooks/raw",
            content=body,
            params=[
                ("rcpt", acme.at("CS+Orders")),
                ("rcpt", acme.at("anyone")),
                ("rcpt", "stranger@nowhere.example"),
            ],
            headers=signed_headers(body),
        )
    assert response.status_code == 202, response.text
    [envelope] = await published(amqp_url, response.json()["event_id"])
    assert envelope["tenant_id"] == str(acme.tenant_id)
    assert envelope["payload"]["envelope_recipients"] == sorted(  # type: ignore[index]
        [acme.at("cs+orders"), acme.at("anyone"), "stranger@nowhere.example"]
    )


async def test_known_domain_without_catch_all_refuses(
    app: Litestar, database_url: str, amqp_url: str
) -> None:
    """A tenant's domain without a catch-all does not make unknown addresses of it ours."""
    acme = await seed_directory(database_url, inbound_domain=True)
    body = mail()
    async with serving(app) as client:
        response = await client.post(
            "/webhooks/raw?rcpt=" + acme.at("nobody"), content=body, headers=signed_headers(body)
        )
    assert response.status_code == 422
    assert response.json()["unknown_recipients"] == [acme.at("nobody")]


async def test_without_recipients_the_router_decides(app: Litestar, amqp_url: str) -> None:
    """A post without rcpt is accepted as before, with no tenant."""
    body = mail()
    async with serving(app) as client:
        response = await client.post("/webhooks/raw", content=body, headers=signed_headers(body))
    assert response.status_code == 202
    [envelope] = await published(amqp_url, response.json()["event_id"])
    assert envelope["tenant_id"] is None
