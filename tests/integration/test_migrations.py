"""The orchestrator schema migrates up, down to nothing, and up again."""

from __future__ import annotations

import psycopg

from devmatrix.stores.postgres import migrate, migrations_dir
from services.orchestrator import runtime

MIGRATIONS = migrations_dir(runtime.__file__)
TABLES = {"specs", "requirements", "tasks", "task_dependencies", "reports", "audit_log", "waves"}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'orchestrator'"
        ).fetchall()
    return {r[0] for r in rows} - {"alembic_version"}


def indexes(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'orchestrator'").fetchall()
    return {r[0] for r in rows}


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    migrate(database_url, MIGRATIONS, "orchestrator")
    assert tables(database_url) == TABLES
    # Every lookup the RPCs do has its index.
    assert {
        "tasks_parent_idx",
        "tasks_spec_status_idx",
        "tasks_spec_type_idx",
        "tasks_spec_wave_idx",
        "task_dependencies_dep_idx",
        "audit_log_entity_idx",
        "reports_task_idx",
    } <= indexes(database_url)

    migrate(database_url, MIGRATIONS, "orchestrator", "base")
    assert tables(database_url) == set()

    migrate(database_url, MIGRATIONS, "orchestrator")
    assert tables(database_url) == TABLES


def test_upgrade_is_idempotent(database_url: str) -> None:
    migrate(database_url, MIGRATIONS, "orchestrator")
    migrate(database_url, MIGRATIONS, "orchestrator")
    with psycopg.connect(database_url) as conn:
        (version,) = conn.execute("SELECT version_num FROM orchestrator.alembic_version").fetchone()
    assert version == "0001"
