"""Prometheus metrics through OpenTelemetry: one MeterProvider per process, scraped at /metrics.

Labels are only ever bounded, non-personal values: event types (validated
against `EventType`), outcomes, queue names. Never tenant ids, addresses or
subjects: they would leak data into the monitoring stack and explode the
number of series.

Consumed messages are measured once for every subscriber by
`MetricsMiddleware` (wired in `make_broker`); published ones in
`EventPublisher`; SMTP results and SLA breaches where they happen; HTTP
requests of the Litestar apps by `postdesk_runtime.http_metrics`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from faststream import BaseMiddleware
from faststream.asgi import AsgiResponse, get
from faststream.message import StreamMessage
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from postdesk_contracts.envelope import EventType
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

UNKNOWN = "unknown"
_EVENT_TYPES = frozenset(event.value for event in EventType)

# Seconds: handlers take milliseconds to seconds (SMTP, S3), lag can reach hours.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


class Metrics:
    """The instruments of one process and the registry their reader exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        # No target_info: Prometheus labels each target with job and instance itself.
        reader = PrometheusMetricReader(disable_target_info=True, registry=self.registry)
        self.provider = MeterProvider(metric_readers=[reader])
        meter = self.provider.get_meter("postdesk")
        self.consumed = meter.create_counter(
            "postdesk_messages_consumed",
            description="Messages a subscriber finished, by event type and outcome",
        )
        self.handler_duration = meter.create_histogram(
            "postdesk_handler_duration",
            unit="s",
            description="Time a subscriber spent on one message, by event type",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )
        self.queue_lag = meter.create_histogram(
            "postdesk_queue_lag",
            unit="s",
            description="Age of a consumed event (now minus its envelope's occurred_at)",
            explicit_bucket_boundaries_advisory=LAG_BUCKETS,
        )
        self.published = meter.create_counter(
            "postdesk_messages_published",
            description="Events published with broker confirms, by event type",
        )
        self.dead_lettered = meter.create_counter(
            "postdesk_messages_dead_lettered",
            description="Messages a service put into a dead-letter queue, by queue",
        )
        self.duplicates = meter.create_counter(
            "postdesk_messages_duplicate",
            description="Redelivered events a consumer had handled already (skipped), by consumer",
        )
        self.smtp_results = meter.create_counter(
            "postdesk_smtp_results",
            description="Outbound SMTP attempts by result: sent, temporary, permanent",
        )
        self.sla_breaches = meter.create_counter(
            "postdesk_sla_breaches", description="SLA timers the router breached"
        )
        self.http_requests = meter.create_counter(
            "postdesk_http_requests",
            description="HTTP requests answered, by method, route template and status code",
        )
        self.http_request_duration = meter.create_histogram(
            "postdesk_http_request_duration",
            unit="s",
            description="Time from a request's arrival to its response's headers, by method and route",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )

    def exposition(self) -> bytes:
        """The current values in Prometheus' text exposition format."""
        return generate_latest(self.registry)


@cache
def metrics() -> Metrics:
    """This process's metrics (created on first use, shared by every app in the process)."""
    return Metrics()


def event_type_label(value: object) -> str:
    """An event type as a label; anything else becomes `unknown`, so labels stay bounded."""
    return value if isinstance(value, str) and value in _EVENT_TYPES else UNKNOWN


def record_published(routing_key: str) -> None:
    metrics().published.add(1, {"event_type": event_type_label(routing_key)})


def record_dead_lettered(queue: str) -> None:
    metrics().dead_lettered.add(1, {"queue": queue})


def record_duplicate(consumer: str) -> None:
    metrics().duplicates.add(1, {"consumer": consumer})


def record_smtp_result(outcome: str) -> None:
    metrics().smtp_results.add(1, {"result": outcome})


def record_sla_breaches(count: int) -> None:
    if count:
        metrics().sla_breaches.add(count)


def envelope_age_seconds(body: object, now: datetime) -> float | None:
    """Seconds since the envelope's `occurred_at`, or None when the body carries none."""
    if not isinstance(body, dict):
        return None
    try:
        occurred = datetime.fromisoformat(str(body["occurred_at"]))
    except (KeyError, ValueError):
        return None
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    return max(0.0, (now - occurred).total_seconds())


def asgi_metrics_route() -> tuple[str, Any]:
    """GET /metrics for a FastStream ASGI app."""

    @get(include_in_schema=False)
    async def metrics_endpoint(scope: Any) -> AsgiResponse:
        return AsgiResponse(metrics().exposition(), 200, {"content-type": CONTENT_TYPE_LATEST})

    return ("/metrics", metrics_endpoint)


class MetricsMiddleware(BaseMiddleware):
    """Counts and times every consumed message: outcome `handled` or `failed` (the handler
    raised, so the message is nacked and redelivered or, at its delivery limit, dead-lettered
    by RabbitMQ)."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        try:
            body = await msg.decode()
        except Exception:  # an undecodable body is the handler's failure to report, not ours
            body = None
        event_type = event_type_label(body.get("type") if isinstance(body, dict) else None)
        instruments = metrics()
        lag = envelope_age_seconds(body, datetime.now(UTC))
        if lag is not None:
            instruments.queue_lag.record(lag, {"event_type": event_type})
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await call_next(msg)
            outcome = "handled"
            return result
        finally:
            instruments.handler_duration.record(
                time.perf_counter() - started, {"event_type": event_type}
            )
            instruments.consumed.add(1, {"event_type": event_type, "outcome": outcome})


__all__ = [
    "CONTENT_TYPE_LATEST",
    "Metrics",
    "MetricsMiddleware",
    "asgi_metrics_route",
    "event_type_label",
    "metrics",
    "record_dead_lettered",
    "record_duplicate",
    "record_published",
    "record_sla_breaches",
    "record_smtp_result",
]
