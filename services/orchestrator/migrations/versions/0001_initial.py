"""Initial orchestrator schema: specs, requirements, tasks, dependencies, reports, audit log, waves.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None

TASK_TYPES = "'PHASE','TASK_GROUP','TASK','SUBTASK'"
STATUSES = "'PENDING','READY','RUNNING','COMPLETED','FAILED','BLOCKED','SKIPPED','NEEDS_REVIEW'"
KINDS = "'API','MODEL','CRUD','UI','TEST','CONFIG','DOCS','GENERIC','MIGRATION','DEPLOY'"
SPEC_STATUSES = "'PLANNED','ANALYZED','RUNNING','COMPLETED','FAILED','CANCELLED'"
CATEGORIES = "'FUNCTIONAL','ENTITY','ENDPOINT','CONSTRAINT','TECH_STACK','NON_FUNCTIONAL','OTHER'"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE orchestrator.specs (
        id uuid PRIMARY KEY,
        name varchar(255) NOT NULL,
        title varchar(500) NOT NULL,
        format varchar(20) NOT NULL CHECK (format IN ('MARKDOWN', 'JSON_PLAN')),
        status varchar(20) NOT NULL DEFAULT 'PLANNED' CHECK (status IN ({SPEC_STATUSES})),
        content jsonb NOT NULL,
        source text NOT NULL,
        source_sha256 char(64) NOT NULL,
        request_id varchar(128) UNIQUE,
        analysis jsonb,
        -- A spec's task tree never changes after ingestion, so its size is stored once.
        task_count integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("CREATE INDEX specs_created_at_idx ON orchestrator.specs (created_at, id)")
    op.execute(f"""
    CREATE TABLE orchestrator.requirements (
        id uuid PRIMARY KEY,
        spec_id uuid NOT NULL REFERENCES orchestrator.specs (id) ON DELETE CASCADE,
        key varchar(50) NOT NULL,
        category varchar(20) NOT NULL CHECK (category IN ({CATEGORIES})),
        text text NOT NULL,
        priority smallint NOT NULL DEFAULT 2,
        position integer NOT NULL,
        UNIQUE (spec_id, key)
    )""")
    op.execute(f"""
    CREATE TABLE orchestrator.tasks (
        id uuid PRIMARY KEY,
        spec_id uuid NOT NULL REFERENCES orchestrator.specs (id) ON DELETE CASCADE,
        parent_id uuid REFERENCES orchestrator.tasks (id) ON DELETE CASCADE,
        key varchar(200) NOT NULL,
        task_type varchar(20) NOT NULL CHECK (task_type IN ({TASK_TYPES})),
        name varchar(500) NOT NULL,
        description text NOT NULL DEFAULT '',
        status varchar(20) NOT NULL DEFAULT 'PENDING' CHECK (status IN ({STATUSES})),
        effort integer NOT NULL DEFAULT 1 CHECK (effort >= 0),
        assigned_to varchar(100),
        phase smallint NOT NULL CHECK (phase BETWEEN 0 AND 5),
        priority smallint NOT NULL DEFAULT 2,
        kind varchar(20) NOT NULL DEFAULT 'GENERIC' CHECK (kind IN ({KINDS})),
        acceptance_criteria jsonb NOT NULL DEFAULT '[]',
        expected_output text NOT NULL DEFAULT '',
        required_skills text[] NOT NULL DEFAULT '{{}}',
        -- Declared dependencies (task ids) as written in the plan, before expansion.
        dependencies jsonb NOT NULL DEFAULT '[]',
        wave integer,
        position integer NOT NULL,
        version bigint NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (spec_id, key),
        UNIQUE (spec_id, position)
    )""")
    op.execute("CREATE INDEX tasks_parent_idx ON orchestrator.tasks (parent_id)")
    op.execute("CREATE INDEX tasks_spec_status_idx ON orchestrator.tasks (spec_id, status)")
    op.execute("CREATE INDEX tasks_spec_type_idx ON orchestrator.tasks (spec_id, task_type, position)")
    op.execute("CREATE INDEX tasks_spec_wave_idx ON orchestrator.tasks (spec_id, wave, position)")
    op.execute(
        "CREATE INDEX tasks_assigned_idx ON orchestrator.tasks (assigned_to) WHERE assigned_to IS NOT NULL"
    )
    # Dependencies expanded to TASK level: what waves and readiness are computed from.
    op.execute("""
    CREATE TABLE orchestrator.task_dependencies (
        task_id uuid NOT NULL REFERENCES orchestrator.tasks (id) ON DELETE CASCADE,
        depends_on_id uuid NOT NULL REFERENCES orchestrator.tasks (id) ON DELETE CASCADE,
        PRIMARY KEY (task_id, depends_on_id),
        CHECK (task_id <> depends_on_id)
    )""")
    op.execute("CREATE INDEX task_dependencies_dep_idx ON orchestrator.task_dependencies (depends_on_id)")
    op.execute("""
    CREATE TABLE orchestrator.reports (
        id uuid PRIMARY KEY,
        task_id uuid NOT NULL REFERENCES orchestrator.tasks (id) ON DELETE CASCADE,
        report_type varchar(20) NOT NULL CHECK (report_type IN ('IMPLEMENTATION', 'VERIFICATION', 'REVIEW')),
        content jsonb NOT NULL,
        request_id varchar(128) UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("CREATE INDEX reports_task_idx ON orchestrator.reports (task_id, created_at)")
    op.execute("""
    CREATE TABLE orchestrator.audit_log (
        id uuid PRIMARY KEY,
        entity_type varchar(50) NOT NULL,
        entity_id uuid NOT NULL,
        spec_id uuid,
        action varchar(50) NOT NULL,
        changes jsonb NOT NULL DEFAULT '{}',
        user_id varchar(100) NOT NULL DEFAULT 'system',
        request_id varchar(128),
        "timestamp" timestamptz NOT NULL DEFAULT clock_timestamp()
    )""")
    op.execute('CREATE INDEX audit_log_entity_idx ON orchestrator.audit_log (entity_id, "timestamp", id)')
    op.execute('CREATE INDEX audit_log_spec_idx ON orchestrator.audit_log (spec_id, "timestamp")')
    op.execute(
        "CREATE INDEX audit_log_request_idx ON orchestrator.audit_log (entity_id, request_id) "
        "WHERE request_id IS NOT NULL"
    )
    op.execute("""
    CREATE TABLE orchestrator.waves (
        spec_id uuid NOT NULL REFERENCES orchestrator.specs (id) ON DELETE CASCADE,
        number integer NOT NULL CHECK (number >= 0),
        task_count integer NOT NULL,
        total_effort integer NOT NULL,
        status varchar(20) NOT NULL DEFAULT 'PENDING',
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (spec_id, number)
    )""")


def downgrade() -> None:
    for table in ("waves", "audit_log", "reports", "task_dependencies", "tasks", "requirements", "specs"):
        op.execute(f"DROP TABLE orchestrator.{table}")
