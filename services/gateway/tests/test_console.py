"""The web console's files at / and /assets: public, under the console's CSP, cached by hash,
and a clear 503 where the console was not built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from postdesk_gateway.handlers.console import CONSOLE_CSP
from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings

UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/nowhere"
UNREACHABLE_AMQP = "amqp://guest:guest@127.0.0.1:1/"
INDEX = '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>'
SCRIPT = "console.log('postdesk');"


def _client(console_dir: Path) -> httpx.AsyncClient:
    app = create_app(
        GatewaySettings(
            database_url=UNREACHABLE_DB, amqp_url=UNREACHABLE_AMQP, web_console_dir=console_dir
        )
    )
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI scope more narrowly than httpx
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


@pytest.fixture
def built_console(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text(SCRIPT)
    return tmp_path


@pytest_asyncio.fixture
async def console(built_console: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(built_console) as client:
        yield client


async def test_page_is_public_and_under_the_console_policy(console: httpx.AsyncClient) -> None:
    response = await console.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONSOLE_CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"


def test_policy_runs_only_own_scripts_and_reaches_only_this_origin() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONSOLE_CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-eval" not in CONSOLE_CSP


async def test_assets_are_public_typed_and_cached_for_a_year(console: httpx.AsyncClient) -> None:
    response = await console.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == SCRIPT
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age=31536000" in response.headers["cache-control"]


async def test_missing_asset_and_path_escape_are_404(console: httpx.AsyncClient) -> None:
    assert (await console.get("/assets/nope.js")).status_code == 404
    assert (await console.get("/assets/../index.html")).status_code in (404, 400)
    assert (await console.get("/assets/%2e%2e/%2e%2e/etc/passwd")).status_code in (404, 400)


async def test_api_routes_still_need_a_token(console: httpx.AsyncClient) -> None:
    assert (await console.get("/tickets")).status_code == 401


async def test_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    async with _client(tmp_path / "absent") as client:
        response = await client.get("/")
    assert response.status_code == 503
    assert "npm run build" in response.text
