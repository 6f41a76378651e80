"""The gateway's /metrics: public like /healthz, outside the OpenAPI document, no tenant data."""

from __future__ import annotations

import uuid
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


REQUESTS = "postdesk_http_requests_total"
DURATION_COUNT = "postdesk_http_request_duration_seconds_count"
TICKET_ROUTE = "/tickets/{ticket_id}"


async def test_http_requests_are_counted_by_route_template_method_and_status(
    client: httpx.AsyncClient, world: Any, auth: Auth
) -> None:
    """Answered, refused (401 from the auth middleware), not found (404 from the handler)
    and unroutable requests are counted under the route's template, never the raw path;
    the probes and the scrape are not counted."""
    ticket = world.tickets["support_1"]
    missing = uuid.uuid4()
    before = (await client.get("/metrics")).text

    def counted(text: str, route: str, status: str, method: str = "GET") -> float:
        return sample_value(text, REQUESTS, method=method, route=route, status=status)

    assert (await client.get(f"/tickets/{ticket.id}", headers=auth("primary"))).status_code == 200
    assert (await client.get(f"/tickets/{ticket.id}", headers=auth("primary"))).status_code == 200
    assert (await client.get(f"/tickets/{missing}", headers=auth("primary"))).status_code == 404
    assert (await client.get(f"/tickets/{ticket.id}")).status_code == 401
    assert (await client.delete("/no/such/route")).status_code == 404
    assert (await client.get("/healthz")).status_code == 200
    after = (await client.get("/metrics")).text

    assert counted(after, TICKET_ROUTE, "200") - counted(before, TICKET_ROUTE, "200") == 2
    assert counted(after, TICKET_ROUTE, "404") - counted(before, TICKET_ROUTE, "404") == 1
    assert counted(after, TICKET_ROUTE, "401") - counted(before, TICKET_ROUTE, "401") == 1
    unmatched = counted(after, "unmatched", "404", "DELETE") - counted(
        before, "unmatched", "404", "DELETE"
    )
    assert unmatched == 1
    latency = sample_value(after, DURATION_COUNT, method="GET", route=TICKET_ROUTE)
    assert latency - sample_value(before, DURATION_COUNT, method="GET", route=TICKET_ROUTE) == 4
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert f'route="{probe}"' not in after
    for private in (str(ticket.id), str(missing), "/no/such/route"):
        assert private not in after
