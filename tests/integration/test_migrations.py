"""The orchestrator schema migrates up, down to nothing, and up again; each revision's
downgrade removes exactly what its upgrade added."""

from __future__ import annotations

import logging

import psycopg
from alembic import command
from alembic.script import ScriptDirectory

from devmatrix.stores.postgres import alembic_config, migrate, migrations_dir
from services.orchestrator import runtime

MIGRATIONS = migrations_dir(runtime.__file__)
TABLES = {"specs", "requirements", "tasks", "task_dependencies", "reports", "audit_log", "waves"}
# Revision 0002 (execution).
EXECUTION_TABLES = {"executions", "task_attempts", "task_files", "agent_logs"}
LEASE_COLUMNS = {
    "lease_id",
    "lease_owner",
    "lease_expires_at",
    "lease_seconds",
    "attempts",
    "confidence",
    "review_reason",
}
# The InsightsService reads agent_logs: its shape is a contract (name, type, nullable, default).
AGENT_LOGS = [
    ("id", "bigint", "NO", "nextval"),
    ("spec_id", "uuid", "NO", None),
    ("task_id", "uuid", "YES", None),
    ("execution_id", "uuid", "YES", None),
    ("agent", "character varying(100)", "NO", None),
    ("phase", "character varying(50)", "NO", None),
    ("action", "character varying(100)", "NO", None),
    ("input_summary", "text", "NO", "''"),
    ("output_summary", "text", "NO", "''"),
    ("duration_ms", "integer", "NO", None),
    ("success", "boolean", "NO", None),
    ("error", "text", "YES", None),
    ("tokens_in", "integer", "NO", "0"),
    ("tokens_out", "integer", "NO", "0"),
    ("cost_usd", "double precision", "NO", "0"),
    ("created_at", "timestamp with time zone", "NO", "now()"),
]


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


def columns(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'orchestrator' "
            "AND table_name = %s",
            (table,),
        ).fetchall()
    return {r[0] for r in rows}


def head(url: str) -> str:
    script = ScriptDirectory.from_config(alembic_config(url, MIGRATIONS, "orchestrator"))
    return str(script.get_current_head())


def downgrade_to(url: str, revision: str) -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command.downgrade(alembic_config(url, MIGRATIONS, "orchestrator"), revision)


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    migrate(database_url, MIGRATIONS, "orchestrator")
    migrated = tables(database_url)
    assert migrated >= TABLES | EXECUTION_TABLES
    # Every lookup the RPCs do has its index.
    assert {
        "tasks_parent_idx",
        "tasks_spec_status_idx",
        "tasks_spec_type_idx",
        "tasks_spec_wave_idx",
        "task_dependencies_dep_idx",
        "audit_log_entity_idx",
        "reports_task_idx",
        "tasks_claim_idx",
        "tasks_lease_idx",
        "executions_one_running_idx",
        "task_attempts_task_idx",
        "agent_logs_created_at_idx",
        "agent_logs_spec_agent_idx",
    } <= indexes(database_url)

    migrate(database_url, MIGRATIONS, "orchestrator", "base")
    assert tables(database_url) == set()

    migrate(database_url, MIGRATIONS, "orchestrator")
    assert tables(database_url) == migrated


def test_upgrade_is_idempotent(database_url: str) -> None:
    migrate(database_url, MIGRATIONS, "orchestrator")
    migrate(database_url, MIGRATIONS, "orchestrator")
    with psycopg.connect(database_url) as conn:
        (version,) = conn.execute("SELECT version_num FROM orchestrator.alembic_version").fetchone()
    assert version == head(database_url)


def test_execution_revision_downgrades_to_the_initial_schema(database_url: str) -> None:
    migrate(database_url, MIGRATIONS, "orchestrator")
    assert columns(database_url, "tasks") >= LEASE_COLUMNS
    with psycopg.connect(database_url) as conn:
        shape = conn.execute(
            """SELECT column_name,
                      CASE WHEN character_maximum_length IS NOT NULL
                           THEN data_type || '(' || character_maximum_length || ')' ELSE data_type END,
                      is_nullable, column_default
               FROM information_schema.columns WHERE table_schema = 'orchestrator' AND table_name = 'agent_logs'
               ORDER BY ordinal_position"""
        ).fetchall()
    got = [tuple(row) for row in shape]
    assert [(n, k, null) for n, k, null, _ in got] == [(n, k, null) for n, k, null, _ in AGENT_LOGS]
    for (name, _, _, default), (_, _, _, expected) in zip(got, AGENT_LOGS, strict=True):
        assert (default is None) == (expected is None), name
        if expected is not None:
            assert default.startswith(expected) or expected in default, (name, default)

    downgrade_to(database_url, "0001")
    assert tables(database_url) == TABLES
    assert not LEASE_COLUMNS & columns(database_url, "tasks")
    assert not {"tasks_claim_idx", "tasks_lease_idx", "tasks_review_idx"} & indexes(database_url)

    migrate(database_url, MIGRATIONS, "orchestrator")
    assert tables(database_url) >= TABLES | EXECUTION_TABLES
