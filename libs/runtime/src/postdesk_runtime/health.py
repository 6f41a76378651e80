"""/healthz (the process is alive) and /readyz (its database and broker answer)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.rabbit import RabbitBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from postdesk_runtime.db import database_ready

Check = Callable[[], Awaitable[bool]]


def readiness_checks(broker: RabbitBroker | None, engine: AsyncEngine | None) -> dict[str, Check]:
    checks: dict[str, Check] = {}
    if broker is not None:
        checks["broker"] = lambda: broker.ping(timeout=2.0)
    if engine is not None:
        checks["database"] = lambda: database_ready(engine)
    return checks


async def run_checks(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
    results = {name: ("ok" if await check() else "failing") for name, check in checks.items()}
    return all(v == "ok" for v in results.values()), results


def asgi_health_routes(checks: dict[str, Check]) -> Sequence[tuple[str, Any]]:
    """Routes for a FastStream ASGI app."""

    @get(include_in_schema=False)
    async def healthz(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status":"ok"}', 200, headers={"content-type": "application/json"})

    @get(include_in_schema=False)
    async def readyz(scope: Any) -> AsgiResponse:
        ready, results = await run_checks(checks)
        body = json.dumps({"status": "ready" if ready else "not ready", "checks": results})
        return AsgiResponse(
            body.encode(), 200 if ready else 503, {"content-type": "application/json"}
        )

    return [("/healthz", healthz), ("/readyz", readyz)]
