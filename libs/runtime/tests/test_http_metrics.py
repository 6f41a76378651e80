"""HttpMetricsMiddleware around a small real Litestar app: what gets counted, and how."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter
from postdesk_runtime.http_metrics import HttpMetricsMiddleware
from postdesk_runtime.metrics import metrics
from postdesk_testing import sample_value

REQUESTS = "postdesk_http_requests_total"


@get("/probe-items/{item_id:int}", sync_to_thread=False)
def item(item_id: Annotated[int, PathParameter()]) -> dict[str, int]:
    if item_id == 0:
        raise NotFoundException("no such item")
    if item_id < 0:
        raise RuntimeError("a bug")
    return {"id": item_id}


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def instrumented_app() -> Litestar:
    app = Litestar(route_handlers=[item, healthz], logging_config=None, debug=False)
    app.asgi_handler = HttpMetricsMiddleware(app.asgi_handler)
    return app


def scrape() -> str:
    return metrics().exposition().decode()


def count(text: str, route: str, status: str, method: str = "GET") -> float:
    return sample_value(text, REQUESTS, method=method, route=route, status=status)


async def test_statuses_routes_and_exceptions_are_counted_with_bounded_labels() -> None:
    transport = httpx.ASGITransport(app=instrumented_app())  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly than httpx
    route = "/probe-items/{item_id}"
    before = scrape()
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        assert (await client.get("/probe-items/7")).status_code == 200
        assert (await client.get("/probe-items/0")).status_code == 404
        assert (await client.get("/probe-items/-1")).status_code == 500
        assert (await client.post("/probe-items/7")).status_code == 405
        assert (await client.get("/elsewhere/12345")).status_code == 404
        assert (await client.request("BREW", "/probe-items/7")).status_code == 405
        assert (await client.get("/healthz")).status_code == 200
    after = scrape()

    def delta(route: str, status: str, method: str = "GET") -> float:
        return count(after, route, status, method) - count(before, route, status, method)

    assert delta(route, "200") == 1
    assert delta(route, "404") == 1
    assert delta(route, "500") == 1
    assert delta("unmatched", "405", "POST") == 1
    assert delta("unmatched", "404") == 1
    assert delta("unmatched", "405", "OTHER") == 1
    assert 'route="/healthz"' not in after
    for raw in ("/probe-items/7", "/elsewhere", "BREW"):
        assert raw not in after


async def test_an_exception_that_escapes_the_app_counts_as_a_500_and_still_raises() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        scope["path_template"] = "/broken"
        raise RuntimeError("escaped")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent")

    before = count(scrape(), "/broken", "500")
    with pytest.raises(RuntimeError, match="escaped"):
        await HttpMetricsMiddleware(broken)({"type": "http", "method": "GET"}, receive, send)
    assert count(scrape(), "/broken", "500") - before == 1
