"""Fixtures of the SMTP library's integration tests: sessions on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from postdesk_runtime import Sessions, make_engine, make_sessions


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url, pool_size=4)
    yield make_sessions(engine)
    await engine.dispose()
