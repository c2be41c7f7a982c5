"""tests/conftest.py and the schema helpers, from the golden pytest-config and
async-fixtures patterns.

The golden fixtures create the schema from the metadata on PostgreSQL only; the
generated ones build it with the project's own Alembic migrations (so every test
run also proves the migrations), on `TEST_DATABASE_URL` or, when unset, an
in-memory SQLite database so the suite runs anywhere.
"""

from __future__ import annotations

from services.codegen.offline import files as b
from services.codegen.offline.design import ProjectDesign
from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPattern, edit, section

SCHEMA_MODULE = '''"""Build and inspect the test database schema with the project's Alembic migrations.

The migrations run on a connection the caller holds (see ``migrations/env.py``),
so they share the test's event loop and transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from app.models import Base

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration that migrates ``connection`` (no alembic.ini logging setup)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Connection) -> None:
    """Apply every migration."""
    command.upgrade(alembic_config(connection), "head")


def downgrade_to_base(connection: Connection) -> None:
    """Revert every migration."""
    command.downgrade(alembic_config(connection), "base")


def table_names(connection: Connection) -> set[str]:
    """Tables that exist in the database now."""
    return set(inspect(connection).get_table_names())


def schema_differences(connection: Connection) -> list[Any]:
    """What autogenerate would change to make the database match the models."""

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return not (type_ == "table" and name == "alembic_version")

    context = MigrationContext.configure(connection, opts={"include_name": include_name})
    return list(compare_metadata(context, Base.metadata))
'''


def conftest_module(config: GoldenPattern, fixtures: GoldenPattern) -> str:
    lead = edit(
        config.name,
        section(config.name, config.code, '"""Root pytest configuration.', "from __future__"),
        (
            "imported, because settings are cached on first use. The database is a real\n"
            "PostgreSQL (``TEST_DATABASE_URL``; ``docker compose up -d db`` provides one):\n"
            "tests against SQLite would miss the very behaviour the patterns rely on\n"
            "(timezone-aware timestamps, functional unique indexes, ``ON DELETE CASCADE``).\n",
            "imported, because settings are cached on first use. The database is\n"
            "``TEST_DATABASE_URL`` (PostgreSQL through ``postgresql+psycopg://``, the target);\n"
            "unset, an in-memory SQLite database with foreign keys enforced, so the suite runs\n"
            "anywhere. The schema is built by the project's Alembic migrations. Each test\n"
            "runs in a transaction that is rolled back (see ``db_session``).\n",
        ),
    )
    environment = edit(
        config.name,
        section(config.name, config.code, "TEST_DATABASE_URL = ", "pytest_plugins"),
        (
            'TEST_DATABASE_URL = os.environ.get(\n    "TEST_DATABASE_URL", "postgresql+asyncpg://app:app@localhost:5432/app_test"\n)',
            'TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "sqlite+aiosqlite:///:memory:")',
        ),
        ('        "APP_DATABASE_URL": TEST_DATABASE_URL,\n', '        "DATABASE_URL": TEST_DATABASE_URL,\n'),
        (
            "        # A fresh random secret per run: tests never depend on a committed key.\n"
            '        "APP_JWT_SECRET_KEY": secrets.token_urlsafe(48),\n',
            "",
        ),
    )
    settings_fixture = section(config.name, config.code, "@pytest.fixture(autouse=True)").replace(
        "app.core.config", "app.config"
    )
    session_fixture = section(
        fixtures.name,
        fixtures.code,
        '@pytest_asyncio.fixture(loop_scope="session")\nasync def db_session',
        '@pytest_asyncio.fixture(loop_scope="session")\nasync def user',
    )
    session_fixture = session_fixture.replace("async def app(", "async def app(").rstrip() + "\n"
    session_fixture = (
        session_fixture.replace(
            "async def db_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:\n",
            "async def db_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:\n"
            '    """A session inside a transaction that is rolled back after the test."""\n',
        )
        .replace(
            "async def app(db_session: AsyncSession) -> AsyncIterator[FastAPI]:\n",
            "async def app(db_session: AsyncSession) -> AsyncIterator[FastAPI]:\n"
            '    """The application, its requests served on the test\'s session."""\n',
        )
        .replace(
            "async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:\n",
            "async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:\n"
            '    """An HTTP client calling the application in process."""\n',
        )
    )
    return (
        lead + "from __future__ import annotations\n\n"
        "import os\nfrom collections.abc import AsyncIterator\n\n"
        "import pytest\nimport pytest_asyncio\nfrom fastapi import FastAPI\n"
        "from httpx import ASGITransport, AsyncClient\n"
        "from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine\n"
        "from sqlalchemy.pool import NullPool, StaticPool\n\n"
        "from app.config import get_settings\n"
        "from app.db import dispose_engine, enable_sqlite_transactions, get_session\n"
        "from app.main import create_app\n"
        "from tests.schema import downgrade_to_base, upgrade_to_head\n\n"
        + environment.rstrip()
        + "\n\n\n"
        + _ENGINE_FIXTURE
        + "\n\n"
        + session_fixture
        + "\n\n"
        + settings_fixture
    )


_ENGINE_FIXTURE = '''def make_engine(url: str) -> AsyncEngine:
    """An engine for the test database; SQLite in memory lives in one shared connection."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, poolclass=StaticPool)
        enable_sqlite_transactions(engine)
        return engine
    return create_async_engine(url, poolclass=NullPool)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine() -> AsyncIterator[AsyncEngine]:
    """The test database, migrated to head for the session and back to base after it."""
    engine = make_engine(TEST_DATABASE_URL)
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_to_head)
    try:
        yield engine
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade_to_base)
        await engine.dispose()
        await dispose_engine()
'''


def suite_files(design: ProjectDesign, golden: dict[str, GoldenPattern]) -> list[ProjectFile]:
    del design  # the fixtures are the same for every spec
    conftest = conftest_module(golden["pytest-config"], golden["async-fixtures"])
    return [
        ProjectFile("tests/conftest.py", conftest, b.FIXTURES, ("pytest-config", "async-fixtures")),
        ProjectFile("tests/schema.py", SCHEMA_MODULE, b.FIXTURES, ("alembic-setup",)),
        ProjectFile("tests/__init__.py", '"""Tests of the application."""\n', b.FIXTURES),
        ProjectFile("tests/api/__init__.py", '"""HTTP API tests, one module per resource."""\n', b.FIXTURES),
        ProjectFile("tests/unit/__init__.py", '"""Model and repository tests."""\n', b.FIXTURES),
        ProjectFile(
            "tests/integration/__init__.py", '"""Cross-resource flows and migrations."""\n', b.FIXTURES
        ),
    ]
