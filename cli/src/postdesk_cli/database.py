"""Create the database if it does not exist yet, then migrate it."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from postdesk_schema.migrate import migrate


async def ensure_database(database_url: str) -> bool:
    """Create the database named in `database_url` if missing; True if it was created."""
    parts = urlsplit(database_url.replace("+asyncpg", ""))
    name = parts.path.lstrip("/")
    if not name or '"' in name:
        raise ValueError("DATABASE_URL must name a database")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    conn = await asyncpg.connect(admin)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


def create_and_migrate(database_url: str) -> None:
    asyncio.run(ensure_database(database_url))
    migrate(database_url)
