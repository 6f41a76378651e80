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


@pytest_asyncio.fixture(loop_scope="session")
async def private_database_url() -> AsyncIterator[str]:
    """A migrated database of this one test's own, for tests that need fixed names (the demo)."""
    database = IsolatedDatabase()
    yield await database.create()
    await database.drop()


@pytest.fixture
def private_amqp_url() -> Iterator[str]:
    """A virtual host of this one test's own, for tests whose consumers must take no other test's messages."""
    vhost = IsolatedAmqp()
    yield vhost.create()
    vhost.drop()
