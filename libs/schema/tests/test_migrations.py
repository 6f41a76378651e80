"""The migrations build exactly the schema the table models describe."""

from __future__ import annotations

import postdesk_schema  # noqa: F401  # registers every table on SQLModel.metadata
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from postdesk_schema.migrate import async_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

pytestmark = pytest.mark.integration


async def test_migrated_database_matches_models(database_url: str) -> None:
    """After `migrate`, autogenerate finds nothing to change: no model change lacks a migration."""
    engine = create_async_engine(async_url(database_url))

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    await engine.dispose()
    assert diff == []
