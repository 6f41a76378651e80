"""The web console in a real browser: all six services as processes with the demo tenant
(as tests/e2e starts them), the gateway serving the built console at / with its CSP, and
one headless Chromium for the package.

The console is the build in web/dist (`npm ci && npm run build` in web/, scripts/setup does
it), or the directory POSTDESK_WEB_DIST names (a build made elsewhere, e.g. by
`npx vite build --outDir /tmp/dist`). A missing build fails the tests: they must not pass
by not running.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.e2e.conftest import (
    Stack,
    pytest_runtest_makereport,  # noqa: F401  # re-exported: the services' logs on failure
    running_stack,
)
from tests.security.chromium import launched_chromium
from tests.web.console import REPO_ROOT


def console_dist() -> Path:
    """The built console the gateway serves: POSTDESK_WEB_DIST, else the repo's web/dist."""
    return Path(os.environ.get("POSTDESK_WEB_DIST") or REPO_ROOT / "web" / "dist").resolve()


@pytest.fixture(scope="package")
def stack_log() -> io.StringIO:
    return io.StringIO()


@pytest.fixture(scope="package")
def web_dist() -> Path:
    dist = console_dist()
    if not (dist / "index.html").is_file():
        pytest.fail(
            f"no built web console at {dist}: run npm ci && npm run build in web/ "
            "(scripts/setup does it), or point POSTDESK_WEB_DIST at a build"
        )
    return dist


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, stack_log: io.StringIO, web_dist: Path
) -> AsyncIterator[Stack]:
    """tests/e2e's stack, its gateway also serving the console from `web_dist`."""
    console = {"WEB_CONSOLE_DIR": str(web_dist)}
    async with running_stack(tmp_path_factory, stack_log, "web", console) as running:
        yield running


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as chromium:
        yield chromium
