"""Async SQLAlchemy engine and sessions over asyncpg."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

from postdesk_schema.migrate import async_url
from sqlalchemy import Table, insert, inspect, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel import SQLModel

Sessions = async_sessionmaker[AsyncSession]


# Two minutes: a connection's prepared statements keep the plans PostgreSQL made when they
# were first run, so a plan made while a table was nearly empty (a sequential scan) stayed
# with a kept connection as the table grew. bench/routing_growth.py: the early-reply lookup
# went from 1.5 to 7 ms over 3,600 messages on kept connections (docs/adr/0014).
DEFAULT_CONNECTION_MAX_AGE_SECONDS = 120.0


def make_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_age_seconds: float = DEFAULT_CONNECTION_MAX_AGE_SECONDS,
) -> AsyncEngine:
    """An engine that opens up to 2 x `pool_size` connections and keeps each one it opened,
    renewing it when next taken once it is `max_age_seconds` old.

    Not `pool_size` plus as many overflow connections: SQLAlchemy closes an overflow
    connection as it is returned, so a busy consumer (prefetch above the pool) opened and
    closed a PostgreSQL connection, TLS handshake and server process included, for most of
    its messages. The most connections a process holds stays the same.
    """
    return create_async_engine(
        async_url(database_url),
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        pool_recycle=max_age_seconds,
    )


def make_counter_engine(database_url: str, *, pool_size: int = 2) -> AsyncEngine:
    """An engine for counters taken outside the transaction that uses them: each statement
    commits by itself, without waiting for its WAL to reach the disk.

    That is safe for a value another transaction writes down (a ticket number): the commit
    of that transaction flushes the WAL up to its own commit record, so the counter's
    earlier commit is on disk whenever anything that used the value is. Lost in a crash,
    it is lost together with every use of the value.
    """
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        max_overflow=0,
        isolation_level="AUTOCOMMIT",
        connect_args={"server_settings": {"synchronous_commit": "off"}},
    )


def make_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def database_ready(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any failure means not ready; the probe reports it
        return False
    return True


async def insert_rows(session: AsyncSession, rows: Sequence[SQLModel]) -> None:
    """INSERT `rows` (new table models, their defaults already set) by one plain statement
    per table, in the order the tables first appear (parents before children), now.

    For rows the transaction does not change again: it skips the ORM's unit of work, which
    cost the router more CPU per mail than PostgreSQL spent storing them. The objects stay
    outside the session.
    """
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for row in rows:
        table, attributes = _columns_of(type(row))
        by_table.setdefault(table, []).append(
            {column: getattr(row, attribute) for attribute, column in attributes}
        )
    for table, table_rows in by_table.items():
        await session.execute(insert(table), table_rows)


@functools.cache
def _columns_of(model: type[SQLModel]) -> tuple[Table, tuple[tuple[str, str], ...]]:
    """The model's table and (attribute, column key) of each mapped column PostgreSQL does
    not generate itself."""
    mapper = inspect(model)
    attributes = tuple(
        (attr.key, attr.columns[0].key)
        for attr in mapper.column_attrs
        if attr.columns[0].computed is None and attr.columns[0].identity is None
    )
    return cast(Table, mapper.local_table), attributes
