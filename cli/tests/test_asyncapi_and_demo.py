"""The checked-in AsyncAPI document and the demo tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
from postdesk_cli.asyncapi import asyncapi_document, render
from postdesk_cli.demo import seed_demo
from postdesk_runtime import make_engine, make_sessions

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_asyncapi_is_current() -> None:
    """docs/asyncapi.json is what the services' brokers describe now (regenerate with `postdesk asyncapi`)."""
    assert (ROOT / "docs" / "asyncapi.json").read_text() == render()


def test_asyncapi_names_every_consumer_queue_and_published_event() -> None:
    """Every subscription and the events each service publishes appear as channels."""
    channels = set(asyncapi_document()["channels"])
    for expected in (
        "parser.mail.received",
        "router.mail.parsed",
        "notifier.ticket.assigned",
        "outbound.outbound.requested",
    ):
        assert any(name.startswith(expected + ":") for name in channels), expected
    for event in (
        "mail.received",
        "mail.parsed",
        "ticket.created",
        "ticket.assigned",
        "outbound.requested",
        "mail.failed",
        "notification.created",
    ):
        assert f"{event}:publish" in channels, event


@pytest.mark.integration
async def test_demo_seed_is_idempotent(private_database_url: str) -> None:
    """Seeding twice finds the tenant the first run made and adds nothing."""
    engine = make_engine(private_database_url, pool_size=1)
    sessions = make_sessions(engine)
    first = await seed_demo(sessions)
    second = await seed_demo(sessions)
    await engine.dispose()
    assert second.tenant_id == first.tenant_id
    assert second.users == first.users
    assert set(first.accounts) == {"cs@acme.example", "sales@acme.example", "john@acme.example"}
    assert not second.created
