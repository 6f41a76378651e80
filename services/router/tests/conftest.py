"""Fixtures of the router's integration tests: sessions on the test database and a blob store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from postdesk_router.settings import RouterSettings
from postdesk_runtime import BlobStore, Sessions, make_blob_store, make_engine, make_sessions


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url, pool_size=4)
    yield make_sessions(engine)
    await engine.dispose()


@pytest_asyncio.fixture
async def blobs(blob_dir: Path) -> BlobStore:
    """The store the router app builds from its settings: encrypted, as in production."""
    return make_blob_store(RouterSettings(blob_dir=blob_dir))
