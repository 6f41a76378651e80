"""Reading a Prometheus text exposition, as a scraper would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample_value(exposition: str, sample: str, **labels: str) -> float:
    """The value of the sample named `sample` whose labels include `labels`; 0 when absent
    (a counter not yet incremented is not exposed)."""
    for family in text_string_to_metric_families(exposition):
        for found in family.samples:
            if found.name == sample and labels.items() <= found.labels.items():
                return float(found.value)
    return 0.0
