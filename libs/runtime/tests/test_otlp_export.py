"""Trace export over OTLP/HTTP to a real (loopback) collector, configured like the SDK's
standard environment variables say."""

from __future__ import annotations

import pytest
from postdesk_runtime.settings import ServiceSettings
from postdesk_runtime.tracing import configure_tracing, otlp_traces_endpoint, shutdown_tracing
from postdesk_testing.otlp import OtlpReceiver
from pydantic import ValidationError


async def test_spans_reach_the_collector_with_the_service_name_and_the_standard_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch is flushed by `shutdown_tracing` (no wait for the schedule delay); the
    exporter reads OTEL_EXPORTER_OTLP_HEADERS itself."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-token=probe-123")
    with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        provider = configure_tracing("probe", ServiceSettings())
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner"):
            pass
        await shutdown_tracing(provider)
        spans = receiver.spans()
        requests = list(receiver.requests)
    assert sorted(span.name for span in spans) == ["inner", "outer"]
    assert {span.service for span in spans} == {"postdesk-probe"}
    trace_id = f"{outer.get_span_context().trace_id:032x}"
    assert {span.trace_id for span in spans} == {trace_id}
    assert all(request.headers.get("x-collector-token") == "probe-123" for request in requests)
    assert requests[0].headers["content-type"] == "application/x-protobuf"


@pytest.mark.parametrize(
    ("sampler", "ratio", "kept"),
    [("always_off", 1.0, False), ("traceidratio", 0.0, False), ("traceidratio", 1.0, True)],
)
async def test_the_sampler_decides_what_is_exported(sampler: str, ratio: float, kept: bool) -> None:
    with OtlpReceiver() as receiver:
        settings = ServiceSettings.model_validate(
            {
                "otel_exporter_otlp_endpoint": receiver.endpoint,
                "otel_traces_sampler": sampler,
                "otel_traces_sampler_arg": ratio,
            }
        )
        provider = configure_tracing("probe", settings)
        with provider.get_tracer("test").start_as_current_span("sampled?"):
            pass
        await shutdown_tracing(provider)
        assert [span.name for span in receiver.spans()] == (["sampled?"] if kept else [])


def test_the_endpoint_follows_the_otlp_exporter_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    base = ServiceSettings(otel_exporter_otlp_endpoint="http://collector:4318/")
    assert otlp_traces_endpoint(base) == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.example/otlp")
    assert otlp_traces_endpoint(ServiceSettings()) == "https://traces.example/otlp"


def test_an_empty_endpoint_means_no_export_and_grpc_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", " ")
    assert otlp_traces_endpoint(ServiceSettings()) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValidationError, match="http/protobuf"):
        ServiceSettings()
