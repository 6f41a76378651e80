"""The engines of every service: kept connections renewed after their maximum age, and the
counter engine's statements committed by themselves."""

from __future__ import annotations

import asyncio

import pytest
from postdesk_runtime import make_counter_engine, make_engine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

BACKEND_PID = text("SELECT pg_backend_pid()")


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(BACKEND_PID)).scalar_one())


async def test_a_connection_is_kept_and_renewed_once_it_is_old(database_url: str) -> None:
    """Kept: a prepared statement's plan lives as long as its connection. Renewed: a plan
    made while a table was empty must not outlive the table's growth."""
    engine = make_engine(database_url, pool_size=1, max_age_seconds=1.0)
    try:
        first = await backend_pid(engine)
        assert await backend_pid(engine) == first
        await asyncio.sleep(1.3)
        assert await backend_pid(engine) != first
    finally:
        await engine.dispose()


async def test_the_counter_engine_commits_each_statement_by_itself(database_url: str) -> None:
    counter = make_counter_engine(database_url, pool_size=1)
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE counter_engine_probe (n integer)"))
        async with counter.connect() as conn:
            await conn.execute(text("INSERT INTO counter_engine_probe VALUES (1)"))
            setting = (await conn.execute(text("SHOW synchronous_commit"))).scalar_one()
            # no commit: the statement committed itself, as another session sees
            async with engine.connect() as other:
                seen = (
                    await other.execute(text("SELECT count(*) FROM counter_engine_probe"))
                ).scalar_one()
        assert (seen, setting) == (1, "off")
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS counter_engine_probe"))
        await counter.dispose()
        await engine.dispose()
