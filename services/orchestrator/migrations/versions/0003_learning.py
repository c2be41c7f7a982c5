"""Learning data (seed 002): estimates, retrospectives and complexity snapshots, kept
forever (no foreign keys, so they outlive the specs they came from; agent_logs, which
retention deletes, and its created_at index are 0002's).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"

KINDS = "'API','MODEL','CRUD','UI','TEST','CONFIG','DOCS','GENERIC','MIGRATION','DEPLOY'"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE orchestrator.estimates (
        id bigserial PRIMARY KEY,
        -- One estimate per task: a task that runs again replaces its estimate.
        task_id uuid NOT NULL UNIQUE,
        spec_id uuid NOT NULL,
        kind varchar(20) NOT NULL CHECK (kind IN ({KINDS})),
        planned_effort integer NOT NULL CHECK (planned_effort >= 0),
        actual_seconds double precision NOT NULL CHECK (actual_seconds >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("CREATE INDEX estimates_kind_created_idx ON orchestrator.estimates (kind, created_at)")
    op.execute("CREATE INDEX estimates_created_idx ON orchestrator.estimates (created_at)")
    op.execute("CREATE INDEX estimates_spec_idx ON orchestrator.estimates (spec_id)")
    op.execute("""
    CREATE TABLE orchestrator.retrospectives (
        id uuid PRIMARY KEY,
        spec_id uuid NOT NULL,
        execution_id uuid,
        summary jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("CREATE INDEX retrospectives_spec_idx ON orchestrator.retrospectives (spec_id, created_at)")
    op.execute("""
    CREATE TABLE orchestrator.complexity_snapshots (
        id bigserial PRIMARY KEY,
        spec_id uuid NOT NULL,
        task_count integer NOT NULL,
        waves integer NOT NULL,
        total_effort integer NOT NULL,
        critical_path_effort integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(
        "CREATE INDEX complexity_snapshots_spec_idx ON orchestrator.complexity_snapshots (spec_id, created_at)"
    )


def downgrade() -> None:
    for table in ("complexity_snapshots", "retrospectives", "estimates"):
        op.execute(f"DROP TABLE orchestrator.{table}")
