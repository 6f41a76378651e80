"""The app's wiring without a running database or broker: CORS, failures as problems."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings

UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/nowhere"
UNREACHABLE_AMQP = "amqp://guest:guest@127.0.0.1:1/"


@pytest_asyncio.fixture
async def offline() -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose database and broker cannot be reached (lifespan not run)."""
    app = create_app(
        GatewaySettings(
            database_url=UNREACHABLE_DB,
            amqp_url=UNREACHABLE_AMQP,
            cors_origins=["https://app.example"],
        )
    )
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly than httpx
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def test_cors_preflight_allows_configured_origin(offline: httpx.AsyncClient) -> None:
    """A preflight from a configured origin is allowed, with the Authorization header."""
    response = await offline.options(
        "/tickets",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "https://app.example"


async def test_cors_refuses_other_origins(offline: httpx.AsyncClient) -> None:
    """A preflight from an unknown origin gets no allow-origin header."""
    response = await offline.options(
        "/tickets",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_unexpected_failure_is_a_500_problem(offline: httpx.AsyncClient) -> None:
    """A database outage during login is a 500 problem that reveals no internals."""
    response = await offline.post("/auth/login", json={"email": "a@b.test", "password": "x"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "internal server error",
    }


async def test_not_ready_without_database_and_broker(offline: httpx.AsyncClient) -> None:
    """/readyz is 503 and names the failing checks; /healthz still answers."""
    assert (await offline.get("/healthz")).status_code == 200
    response = await offline.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"broker": "failing", "database": "failing"}


@pytest.mark.parametrize("path", ["/me", "/tickets", "/notifications"])
async def test_protected_routes_refuse_before_touching_the_database(
    offline: httpx.AsyncClient, path: str
) -> None:
    """Without a token the answer is 401, even while the database is down."""
    assert (await offline.get(path)).status_code == 401
