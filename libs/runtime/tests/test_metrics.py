"""The metrics module: instruments, bounded labels, and the consumer middleware on a real broker."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faststream.middlewares import AckPolicy
from faststream.rabbit import RabbitQueue
from postdesk_contracts import EventType
from postdesk_runtime import claim_event, make_broker, make_engine, make_sessions
from postdesk_runtime.metrics import (
    envelope_age_seconds,
    event_type_label,
    metrics,
    record_dead_lettered,
    record_duplicate,
    record_published,
    record_sla_breaches,
    record_smtp_result,
)
from postdesk_testing import eventually, sample_value
from prometheus_client.parser import text_string_to_metric_families

CONSUMED = "postdesk_messages_consumed_total"


def scrape() -> str:
    return metrics().exposition().decode()


def test_event_type_labels_are_bounded_to_known_event_types() -> None:
    assert event_type_label("mail.received") == "mail.received"
    assert event_type_label("tenant-1234.mail") == "unknown"
    assert event_type_label(None) == "unknown"


def test_envelope_age_is_measured_from_occurred_at() -> None:
    now = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
    assert envelope_age_seconds({"occurred_at": "2026-01-01T12:00:00Z"}, now) == 5.0
    assert envelope_age_seconds({"occurred_at": "2026-01-01T12:00:00"}, now) == 5.0  # naive: UTC
    assert envelope_age_seconds({"occurred_at": "2026-01-01T12:00:09Z"}, now) == 0.0  # clock skew
    assert envelope_age_seconds({"occurred_at": "not a date"}, now) is None
    assert envelope_age_seconds({}, now) is None
    assert envelope_age_seconds(b"raw", now) is None


def test_service_specific_counters_are_exposed_with_their_labels() -> None:
    before = scrape()
    record_published("ticket.created")
    record_published("someone.elses.event")
    record_dead_lettered("router.mail-parsed")
    record_smtp_result("temporary")
    record_sla_breaches(2)
    record_sla_breaches(0)
    after = scrape()

    def delta(sample: str, **labels: str) -> float:
        return sample_value(after, sample, **labels) - sample_value(before, sample, **labels)

    assert delta("postdesk_messages_published_total", event_type="ticket.created") == 1
    assert delta("postdesk_messages_published_total", event_type="unknown") == 1
    assert delta("postdesk_messages_dead_lettered_total", queue="router.mail-parsed") == 1
    assert delta("postdesk_smtp_results_total", result="temporary") == 1
    assert delta("postdesk_sla_breaches_total") == 2
    assert "someone.elses.event" not in after


@pytest.mark.integration
async def test_middleware_counts_failed_then_handled_delivery(amqp_url: str) -> None:
    """A handler that raises once: the nack redelivers, so one failure and one success."""
    broker = make_broker(amqp_url)
    queue = RabbitQueue(f"metrics-test-{uuid.uuid4().hex[:8]}", auto_delete=True)
    calls: list[Any] = []

    @broker.subscriber(queue, ack_policy=AckPolicy.NACK_ON_ERROR)
    async def flaky(body: dict[str, Any]) -> None:
        calls.append(body)
        if len(calls) == 1:
            raise RuntimeError("first delivery fails")

    labels = {"event_type": EventType.MAIL_RECEIVED.value}
    before = scrape()
    async with broker:
        await broker.start()
        occurred = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
        await broker.publish(
            {"type": EventType.MAIL_RECEIVED.value, "occurred_at": occurred}, queue=queue
        )

        async def handled_after_redelivery() -> str | None:
            text = scrape()
            handled = sample_value(text, CONSUMED, outcome="handled", **labels)
            return (
                text
                if handled > sample_value(before, CONSUMED, outcome="handled", **labels)
                else None
            )

        after = await eventually(handled_after_redelivery)

    def delta(sample: str, **extra: str) -> float:
        return sample_value(after, sample, **labels, **extra) - sample_value(
            before, sample, **labels, **extra
        )

    assert delta(CONSUMED, outcome="failed") == 1
    assert delta(CONSUMED, outcome="handled") == 1
    assert delta("postdesk_handler_duration_seconds_count") == 2
    assert delta("postdesk_queue_lag_seconds_count") == 2
    # both deliveries were at least 30 s old
    assert delta("postdesk_queue_lag_seconds_bucket", le="15.0") == 0


@pytest.mark.integration
async def test_a_second_claim_of_an_event_counts_as_duplicate(database_url: str) -> None:
    consumer = f"metrics-test-{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url, pool_size=1)
    before = scrape()
    try:
        for _ in range(3):
            async with make_sessions(engine)() as session, session.begin():
                await claim_event(session, consumer, uuid.UUID(int=7))
    finally:
        await engine.dispose()
    after = scrape()
    duplicates = "postdesk_messages_duplicate_total"
    assert sample_value(after, duplicates, consumer=consumer) == 2
    assert sample_value(before, duplicates, consumer=consumer) == 0


def test_dashboard_queries_only_series_the_services_expose() -> None:
    """docs/grafana-dashboard.json stays in step with the instruments' exported names."""
    dashboard = json.loads(
        (Path(__file__).parents[3] / "docs" / "grafana-dashboard.json").read_text()
    )
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"postdesk_[a-z_]+", expr)}
    exposed = {
        f"{family.name}{suffix}"
        for family in text_string_to_metric_families(_every_series_once())
        for suffix in ("_total", "_bucket", "")
    }
    assert used, "the dashboard has no postdesk queries"
    assert used <= exposed, used - exposed


def _every_series_once() -> str:
    instruments = metrics()
    record_published("mail.received")
    record_dead_lettered("parser.mail-received")
    record_duplicate("parser")
    record_smtp_result("sent")
    record_sla_breaches(1)
    instruments.consumed.add(1, {"event_type": "mail.received", "outcome": "handled"})
    instruments.handler_duration.record(0.1, {"event_type": "mail.received"})
    instruments.queue_lag.record(0.1, {"event_type": "mail.received"})
    instruments.http_requests.add(1, {"method": "GET", "route": "/tickets", "status": "200"})
    instruments.http_request_duration.record(0.1, {"method": "GET", "route": "/tickets"})
    return scrape()
