"""pytest fixtures: `database_url`, `amqp_url` and `blob_dir`, fresh for each test session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from postdesk_testing.infra import IsolatedAmqp, IsolatedDatabase


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url() -> AsyncIterator[str]:
    """A migrated database of this test session's own."""
    database = IsolatedDatabase()
    yield await database.create()
    await database.drop()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A RabbitMQ virtual host of this test session's own."""
    vhost = IsolatedAmqp()
    yield vhost.create()
    vhost.drop()


@pytest.fixture(scope="session")
def blob_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blobs")
