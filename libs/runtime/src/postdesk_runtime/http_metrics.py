"""Counts and times the HTTP requests of a Litestar app (gateway, ingest).

Wrapped around the app's whole ASGI handler (`app.asgi_handler =
HttpMetricsMiddleware(app.asgi_handler)`), outside Litestar's outermost exception
handler: it sees requests no route matched, and every exception already turned into
its 4xx or 5xx response. An exception that still escapes counts as a 500.

Labels stay bounded (postdesk_runtime.metrics): the method (anything unusual is
`OTHER`), the route *template* Litestar's router matched (`/tickets/{ticket_id}`, never
the path with its ids; `unmatched` when no route matched: 404, 405, CORS preflights)
and the status code. The probes and the scrape (/healthz, /readyz, /metrics) are not
counted: kubelet and Prometheus call them every few seconds, and Prometheus records
its own `up` and `scrape_duration_seconds`.

The duration runs from the request's arrival to its response's headers: a streamed
body (an event stream open for an hour, a large download) is not part of it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from postdesk_runtime.metrics import metrics

UNMATCHED = "unmatched"
NOT_COUNTED = frozenset({"/healthz", "/readyz", "/metrics"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Message = MutableMapping[str, Any]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def route_label(scope: MutableMapping[str, Any]) -> str:
    """The template of the matched route (Litestar puts it in the scope when routing
    succeeds), or `unmatched`."""
    template = scope.get("path_template")
    return template if isinstance(template, str) and template else UNMATCHED


def method_label(scope: MutableMapping[str, Any]) -> str:
    method = scope.get("method")
    return method if method in METHODS else "OTHER"


def record_request(scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
    route = route_label(scope)
    if route in NOT_COUNTED:
        return
    method = method_label(scope)
    instruments = metrics()
    instruments.http_requests.add(1, {"method": method, "route": route, "status": str(status)})
    instruments.http_request_duration.record(seconds, {"method": method, "route": route})


class HttpMetricsMiddleware:
    """Pure ASGI: records each HTTP request once, when its response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        async def measured_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                record_request(scope, int(message["status"]), time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, measured_send)
        except Exception:
            if not answered:
                record_request(scope, 500, time.perf_counter() - started)
            raise
