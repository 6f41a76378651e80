"""Run Alembic migrations from code, with the scripts shipped inside this package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def async_url(database_url: str) -> str:
    """The SQLAlchemy asyncpg URL for a `postgresql://` or `postgres://` URL."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {database_url.split('@')[-1]}")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Upgrade the database at `database_url` to `revision` (blocking; call from a thread)."""
    command.upgrade(alembic_config(database_url), revision)
