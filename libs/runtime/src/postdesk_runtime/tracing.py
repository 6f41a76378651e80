"""One OpenTelemetry tracer provider per process, shared by HTTP and AMQP.

Trace context crosses the broker in message headers (W3C traceparent),
injected and extracted by FastStream's telemetry middleware.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter


def configure_tracing(service: str, *, console_export: bool = False) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": f"postdesk-{service}"}))
    if console_export:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider
