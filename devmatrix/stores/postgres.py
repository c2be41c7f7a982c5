"""PostgreSQL for every service that owns tables: an embedded server (pgserver) in the
data dir unless DATABASE_URL is set, a psycopg_pool pool, and alembic migrations
run once per start under an advisory lock (several replicas may start together)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from psycopg_pool import AsyncConnectionPool

from devmatrix.runtime.errors import Unavailable
from devmatrix.runtime.logging import get_logger

log = get_logger("devmatrix.postgres")


def embedded_url(data_dir: Path) -> tuple[str, Any]:
    """Start (or join) the embedded PostgreSQL in data_dir/pg; returns its URL and handle."""
    import pgserver  # Imported lazily: only the embedded default needs it.

    data_dir.mkdir(parents=True, exist_ok=True)
    # pgserver reference-counts handles across processes: the last one out stops it.
    server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    return server.get_uri(), server


# One alembic environment for every service; each service keeps only its versions.
ALEMBIC_ENV = Path(__file__).resolve().parent / "alembic"


def alembic_config(url: str, migrations: Path, schema: str) -> Config:
    """Alembic config for the revisions in `migrations`/versions, applied to `schema`."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_ENV))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(migrations / "versions"))
    # SQLAlchemy needs the driver named; '%' must be escaped for configparser.
    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "postgres://", "postgresql+psycopg://", 1
    )
    config.set_main_option("sqlalchemy.url", sa_url.replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def migrate(url: str, migrations: Path, schema: str, revision: str = "head") -> None:
    """Upgrade (or, with a '-N'/'base' revision, downgrade) the schema; blocking."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = alembic_config(url, migrations, schema)
    if revision == "base" or revision.startswith("-"):
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


class Postgres:
    """A connection pool on the configured or embedded server."""

    def __init__(self, url: str, pool_size: int, embedded_handle: Any = None) -> None:
        self.url = url
        self._embedded = embedded_handle
        self.pool = AsyncConnectionPool(
            url,
            min_size=min(2, pool_size),
            max_size=pool_size,
            open=False,
            timeout=10.0,
            kwargs={"autocommit": False},
            name="devmatrix",
        )

    @classmethod
    async def open(
        cls, database_url: str | None, data_dir: Path, pool_size: int, migrations: Path, schema: str
    ) -> Postgres:
        handle = None
        if database_url is None:
            database_url, handle = await asyncio.to_thread(embedded_url, data_dir)
            log.info("embedded_postgres", data_dir=str(data_dir / "pg"))
        try:
            await asyncio.to_thread(migrate, database_url, migrations, schema)
        except Exception as error:
            raise Unavailable(f"PostgreSQL at {_redact(database_url)} is unavailable: {error}") from error
        db = cls(database_url, pool_size, handle)
        await db.pool.open(wait=True, timeout=30.0)
        return db

    async def ready(self) -> bool:
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                await conn.execute("SELECT 1")
            return True
        except Exception:
            return False

    async def close(self) -> None:
        await self.pool.close()
        # The embedded server handle is released when the process exits (pgserver's atexit).

    def listen_connection(self) -> Any:
        """A dedicated autocommit connection for LISTEN (not from the pool)."""
        return psycopg.AsyncConnection.connect(self.url, autocommit=True)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def migrations_dir(package_file: str) -> Path:
    return Path(os.path.dirname(package_file)) / "migrations"
