"""Outcomes of `devmatrix run` (phases 6.5 to 10): one row per run, the whole summary as
JSON beside the columns queries filter on.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute("""
    CREATE TABLE orchestrator.pipeline_runs (
        id uuid PRIMARY KEY,
        spec_id uuid NOT NULL REFERENCES orchestrator.specs ON DELETE CASCADE,
        execution_id uuid,
        request_id varchar(128) UNIQUE,
        passed boolean NOT NULL,
        compliance double precision NOT NULL CHECK (compliance BETWEEN 0 AND 1),
        summary jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("CREATE INDEX pipeline_runs_spec_idx ON orchestrator.pipeline_runs (spec_id, recorded_at)")


def downgrade() -> None:
    op.execute("DROP TABLE orchestrator.pipeline_runs")
