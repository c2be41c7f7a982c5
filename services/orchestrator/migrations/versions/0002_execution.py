"""Execution: task leases and attempts, executions, the retry history, accepted files, agent logs.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"

EXECUTION_STATUSES = "'RUNNING','COMPLETED','FAILED','CANCELLED'"


def upgrade() -> None:
    # A lease is who holds a RUNNING task and until when; a holder that stops heart-beating
    # loses it, and its task goes back to READY for another worker (or replica).
    op.execute("""
    ALTER TABLE orchestrator.tasks
        ADD COLUMN lease_id uuid,
        ADD COLUMN lease_owner varchar(100),
        ADD COLUMN lease_expires_at timestamptz,
        -- What each heartbeat extends the lease by: the length its holder asked for.
        ADD COLUMN lease_seconds double precision,
        ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        ADD COLUMN confidence double precision,
        ADD COLUMN review_reason text""")
    # Claiming reads the first READY task of a spec in (wave, priority, position) order; the
    # partial index holds only claimable rows, so it stays small however large the spec.
    op.execute(
        "CREATE INDEX tasks_claim_idx ON orchestrator.tasks (spec_id, wave, priority, position) "
        "WHERE status = 'READY' AND task_type = 'TASK'"
    )
    op.execute(
        "CREATE INDEX tasks_lease_idx ON orchestrator.tasks (lease_expires_at) WHERE status = 'RUNNING'"
    )
    op.execute(
        "CREATE INDEX tasks_review_idx ON orchestrator.tasks (spec_id) "
        "WHERE status = 'NEEDS_REVIEW' AND task_type = 'TASK'"
    )
    op.execute(f"""
    CREATE TABLE orchestrator.executions (
        id uuid PRIMARY KEY,
        spec_id uuid NOT NULL REFERENCES orchestrator.specs (id) ON DELETE CASCADE,
        status varchar(20) NOT NULL DEFAULT 'RUNNING' CHECK (status IN ({EXECUTION_STATUSES})),
        concurrency integer NOT NULL CHECK (concurrency > 0),
        -- NULL runs every wave (ExecuteSpec); a number runs that wave only (ExecuteWave).
        wave integer CHECK (wave >= 0),
        request_id varchar(128) UNIQUE,
        waves_executed integer NOT NULL DEFAULT 0,
        tasks_completed integer NOT NULL DEFAULT 0,
        tasks_failed integer NOT NULL DEFAULT 0,
        tasks_in_review integer NOT NULL DEFAULT 0,
        wall_seconds double precision NOT NULL DEFAULT 0,
        -- Sum of the task durations: what running them one after another would have taken.
        sequential_seconds double precision NOT NULL DEFAULT 0,
        cancel_requested boolean NOT NULL DEFAULT false,
        -- Why the run itself stopped (not a task's failure: those are in task_attempts).
        error text,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
    )""")
    op.execute("CREATE INDEX executions_spec_idx ON orchestrator.executions (spec_id, started_at)")
    # At most one running execution per spec, whichever replica started it.
    op.execute(
        "CREATE UNIQUE INDEX executions_one_running_idx ON orchestrator.executions (spec_id) "
        "WHERE status = 'RUNNING'"
    )
    op.execute("""
    CREATE TABLE orchestrator.task_attempts (
        id bigserial PRIMARY KEY,
        task_id uuid NOT NULL REFERENCES orchestrator.tasks (id) ON DELETE CASCADE,
        execution_id uuid,
        attempt integer NOT NULL CHECK (attempt > 0),
        agent varchar(100) NOT NULL,
        generator varchar(100) NOT NULL DEFAULT '',
        temperature double precision,
        success boolean NOT NULL,
        error text,
        confidence double precision,
        overall_score double precision,
        findings jsonb NOT NULL DEFAULT '[]',
        tokens_in integer NOT NULL DEFAULT 0,
        tokens_out integer NOT NULL DEFAULT 0,
        cost_usd double precision NOT NULL DEFAULT 0,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("CREATE INDEX task_attempts_task_idx ON orchestrator.task_attempts (task_id, attempt)")
    op.execute(
        "CREATE INDEX task_attempts_execution_idx ON orchestrator.task_attempts (execution_id) "
        "WHERE execution_id IS NOT NULL"
    )
    op.execute("""
    CREATE TABLE orchestrator.task_files (
        task_id uuid NOT NULL REFERENCES orchestrator.tasks (id) ON DELETE CASCADE,
        path varchar(1000) NOT NULL,
        content text NOT NULL,
        language varchar(50) NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, path)
    )""")
    # Read by the InsightsService: keep this shape.
    op.execute("""
    CREATE TABLE orchestrator.agent_logs (
        id bigserial PRIMARY KEY,
        spec_id uuid NOT NULL REFERENCES orchestrator.specs ON DELETE CASCADE,
        task_id uuid REFERENCES orchestrator.tasks ON DELETE CASCADE,
        execution_id uuid,
        agent varchar(100) NOT NULL,
        phase varchar(50) NOT NULL,
        action varchar(100) NOT NULL,
        input_summary text NOT NULL DEFAULT '',
        output_summary text NOT NULL DEFAULT '',
        duration_ms integer NOT NULL,
        success boolean NOT NULL,
        error text,
        tokens_in integer NOT NULL DEFAULT 0,
        tokens_out integer NOT NULL DEFAULT 0,
        cost_usd double precision NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("CREATE INDEX agent_logs_created_at_idx ON orchestrator.agent_logs (created_at)")
    op.execute("CREATE INDEX agent_logs_spec_agent_idx ON orchestrator.agent_logs (spec_id, agent)")


def downgrade() -> None:
    for table in ("agent_logs", "task_files", "task_attempts", "executions"):
        op.execute(f"DROP TABLE orchestrator.{table}")
    for index in ("tasks_claim_idx", "tasks_lease_idx", "tasks_review_idx"):
        op.execute(f"DROP INDEX orchestrator.{index}")
    op.execute("""
    ALTER TABLE orchestrator.tasks
        DROP COLUMN lease_id,
        DROP COLUMN lease_owner,
        DROP COLUMN lease_expires_at,
        DROP COLUMN lease_seconds,
        DROP COLUMN attempts,
        DROP COLUMN confidence,
        DROP COLUMN review_reason""")
