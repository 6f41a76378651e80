"""The gateway's /metrics: public like /healthz, outside the OpenAPI document, no tenant data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postdesk_testing import eventually, sample_value

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
PUBLISHED = "postdesk_messages_published_total"


async def test_metrics_count_what_the_outbox_relay_published(
    client: httpx.AsyncClient, world: Any, auth: Auth
) -> None:
    """A note goes out through the outbox; the scrape, without a token, shows it published."""
    before = await client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    ticket = world.tickets["support_1"]
    note = await client.post(
        f"/tickets/{ticket.id}/notes", headers=auth("primary"), json={"body": "metrics probe"}
    )
    assert note.status_code == 201, note.text
    baseline = sample_value(before.text, PUBLISHED, event_type="ticket.note_added")

    async def scraped_after_publish() -> str | None:
        text = (await client.get("/metrics")).text
        return (
            text
            if sample_value(text, PUBLISHED, event_type="ticket.note_added") > baseline
            else None
        )

    after = await eventually(scraped_after_publish)
    for private in (str(world.tenant_a), str(ticket.id), world.email("primary")):
        assert private not in after


async def test_metrics_route_is_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/metrics" not in schema["paths"]
    assert "/tickets" in schema["paths"]
