"""/healthz: the process answers. /readyz: its database and broker answer too. /metrics."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Response
from postdesk_runtime.health import Check, run_checks
from postdesk_runtime.metrics import CONTENT_TYPE_LATEST, metrics

from postdesk_gateway.auth import PUBLIC


@get("/healthz", include_in_schema=False, opt=PUBLIC)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, opt=PUBLIC)
async def readyz(readiness: NamedDependency[dict[str, Check]]) -> Response[dict[str, Any]]:
    ready, results = await run_checks(readiness)
    body = {"status": "ready" if ready else "not ready", "checks": results}
    return Response(body, status_code=200 if ready else 503)


@get("/metrics", include_in_schema=False, opt=PUBLIC, sync_to_thread=False)
def metrics_endpoint() -> Response[bytes]:
    """Prometheus text format; no tenant ids or addresses in any label (postdesk_runtime.metrics)."""
    return Response(metrics().exposition(), media_type=CONTENT_TYPE_LATEST)
