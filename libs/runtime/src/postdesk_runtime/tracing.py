"""One OpenTelemetry tracer provider per process, shared by HTTP and AMQP.

Trace context crosses the broker in message headers (W3C traceparent),
injected and extracted by FastStream's telemetry middleware.

Spans leave the process through a batch processor: to stdout with
OTEL_CONSOLE_EXPORT, to an OTLP/HTTP collector when OTEL_EXPORTER_OTLP_ENDPOINT
(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. The exporter reads the other
standard variables itself (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION,
_CERTIFICATE and their _TRACES_ forms), the batch processor its OTEL_BSP_*
ones, and the resource OTEL_RESOURCE_ATTRIBUTES; `service.name` is always
postdesk-<service>. `shutdown_tracing` flushes what is still queued: every
service calls it after its broker has stopped. A service that exports no spans
makes none for its broker's messages and passes no trace context on
(`exports_spans`): turn tracing on in every service or in none.
"""

from __future__ import annotations

import asyncio

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from postdesk_runtime.settings import ServiceSettings, TracesSampler

OTLP_TRACES_PATH = "v1/traces"


def otlp_traces_endpoint(settings: ServiceSettings) -> str | None:
    """Where spans are posted, by the rule of the OTLP exporter specification: the
    per-signal URL as is, else the base URL plus /v1/traces; None when neither is set."""
    if settings.otel_exporter_otlp_traces_endpoint:
        return settings.otel_exporter_otlp_traces_endpoint
    if settings.otel_exporter_otlp_endpoint:
        return f"{settings.otel_exporter_otlp_endpoint.removesuffix('/')}/{OTLP_TRACES_PATH}"
    return None


def exports_spans(settings: ServiceSettings) -> bool:
    """Whether this process's spans go anywhere. When they do not, the broker carries no
    telemetry middleware: making, propagating and dropping a span for every delivery and
    publish cost a consumer about 0.17 ms of CPU per message (a third of FastStream's own
    cost per delivery here), five to seven times per mail."""
    return settings.otel_console_export or otlp_traces_endpoint(settings) is not None


def make_sampler(name: TracesSampler, ratio: float) -> Sampler:
    """The sampler OTEL_TRACES_SAMPLER names, with OTEL_TRACES_SAMPLER_ARG as its ratio."""
    root: Sampler
    match name.removeprefix("parentbased_"):
        case "always_on":
            root = ALWAYS_ON
        case "always_off":
            root = ALWAYS_OFF
        case _:
            root = TraceIdRatioBased(ratio)
    return ParentBased(root) if name.startswith("parentbased_") else root


def configure_tracing(service: str, settings: ServiceSettings) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"postdesk-{service}"}),
        sampler=make_sampler(settings.otel_traces_sampler, settings.otel_traces_sampler_arg),
    )
    if settings.otel_console_export:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    endpoint = otlp_traces_endpoint(settings)
    if endpoint is not None:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


async def shutdown_tracing(provider: TracerProvider) -> None:
    """Export the spans still queued, then stop. In a thread: the final export is a
    blocking HTTP request that may wait up to the exporter's timeout."""
    await asyncio.to_thread(provider.shutdown)
