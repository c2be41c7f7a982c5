"""Skills schema: the catalogue as stored rows, and every validation with its findings.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE skills.skills (
        name varchar(64) PRIMARY KEY,
        domain varchar(16) NOT NULL,
        description text NOT NULL,
        guidelines jsonb NOT NULL,
        languages text[] NOT NULL,
        threshold double precision NOT NULL CHECK (threshold BETWEEN 0 AND 1),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("""
    CREATE TABLE skills.validations (
        id bigserial PRIMARY KEY,
        skill varchar(64) NOT NULL REFERENCES skills.skills (name),
        task_id varchar(128),
        score double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
        passed boolean NOT NULL,
        files integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("CREATE INDEX validations_skill_idx ON skills.validations (skill, created_at)")
    op.execute("""
    CREATE TABLE skills.findings (
        id bigserial PRIMARY KEY,
        validation_id bigint NOT NULL REFERENCES skills.validations (id) ON DELETE CASCADE,
        rule varchar(100) NOT NULL,
        path text NOT NULL,
        line integer NOT NULL,
        severity varchar(10) NOT NULL,
        message text NOT NULL
    )""")
    op.execute("CREATE INDEX findings_validation_idx ON skills.findings (validation_id)")


def downgrade() -> None:
    op.execute("DROP TABLE skills.findings")
    op.execute("DROP TABLE skills.validations")
    op.execute("DROP TABLE skills.skills")
