"""SQL of progress monitoring: a spec's executable tasks with what their attempts took,
its dependency edges, its agents' logged actions, its latest execution and its usage.

Every function takes the caller's connection, so a dashboard reads one snapshot."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row

from services.orchestrator.insights.records import AgentLoad, ExecutionRow, TaskRun, Usage

# Per task: the time its recorded attempts took (an attempt is recorded when it ends).
TASK_RUNS = """
SELECT t.id::text, t.key, t.name, t.status, t.kind, t.phase, t.effort, t.wave,
       COALESCE(t.assigned_to, '') AS agent, t.attempts, COALESCE(t.confidence, 0)::float8 AS confidence,
       ARRAY(SELECT d.depends_on_id::text FROM orchestrator.task_dependencies d
             WHERE d.task_id = t.id ORDER BY d.depends_on_id) AS depends_on,
       round(COALESCE(a.seconds, 0)::numeric, 3)::float8 AS duration_seconds,
       COALESCE(a.n, 0)::int AS recorded_attempts, t.position
FROM orchestrator.tasks t
LEFT JOIN LATERAL (
    SELECT sum(extract(epoch FROM x.finished_at - x.started_at)) AS seconds, count(*) AS n
    FROM orchestrator.task_attempts x WHERE x.task_id = t.id
) a ON true
WHERE t.spec_id = %(spec_id)s AND t.task_type = 'TASK' {extra}
ORDER BY t.wave NULLS LAST, t.position
"""


async def read_only_snapshot(conn: AsyncConnection) -> None:
    """Make the caller's transaction one consistent read-only snapshot (its first statement)."""
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


async def task_runs(conn: AsyncConnection, spec_id: str, wave: int | None = None) -> list[TaskRun]:
    extra = "" if wave is None else "AND t.wave = %(wave)s"
    async with conn.cursor(row_factory=class_row(TaskRun)) as cur:
        await cur.execute(TASK_RUNS.format(extra=extra), {"spec_id": spec_id, "wave": wave})
        return await cur.fetchall()


async def wave_count(conn: AsyncConnection, spec_id: str) -> int:
    async with conn.cursor() as cur:
        await cur.execute("SELECT count(*) FROM orchestrator.waves WHERE spec_id = %s", (spec_id,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def wave_efforts(conn: AsyncConnection, spec_id: str) -> dict[int, int]:
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT number, total_effort FROM orchestrator.waves WHERE spec_id = %s ORDER BY number",
            (spec_id,),
        )
        return {int(r[0]): int(r[1]) for r in await cur.fetchall()}


async def edges(conn: AsyncConnection, spec_id: str) -> list[tuple[str, str]]:
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT d.task_id::text, d.depends_on_id::text FROM orchestrator.task_dependencies d
               JOIN orchestrator.tasks t ON t.id = d.task_id WHERE t.spec_id = %s
               ORDER BY t.position, d.depends_on_id""",
            (spec_id,),
        )
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def agent_loads(conn: AsyncConnection, spec_id: str) -> list[AgentLoad]:
    """Per agent: its assigned tasks by status, and its logged actions on the spec."""
    loads: dict[str, AgentLoad] = {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT assigned_to AS agent, count(*)::int AS assigned,
                      count(*) FILTER (WHERE status = 'RUNNING')::int AS running,
                      count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed,
                      count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
                      count(*) FILTER (WHERE status = 'NEEDS_REVIEW')::int AS needs_review
               FROM orchestrator.tasks
               WHERE spec_id = %s AND task_type = 'TASK' AND assigned_to IS NOT NULL
               GROUP BY assigned_to""",
            (spec_id,),
        )
        for row in await cur.fetchall():
            loads[row["agent"]] = AgentLoad(**row)
        await cur.execute(
            """SELECT agent, count(*)::int AS actions,
                      count(*) FILTER (WHERE NOT success)::int AS failed_actions,
                      round(avg(duration_ms), 3)::float8 AS mean_duration_ms,
                      sum(tokens_in)::bigint AS tokens_in, sum(tokens_out)::bigint AS tokens_out,
                      round(sum(cost_usd)::numeric, 6)::float8 AS cost_usd
               FROM orchestrator.agent_logs WHERE spec_id = %s GROUP BY agent""",
            (spec_id,),
        )
        for row in await cur.fetchall():
            load = loads.setdefault(row["agent"], AgentLoad(row["agent"]))
            for name, value in row.items():
                setattr(load, name, value)
    return [loads[name] for name in sorted(loads)]


USAGE = """count(*)::int AS attempts, COALESCE(sum(x.tokens_in), 0)::bigint AS tokens_in,
    COALESCE(sum(x.tokens_out), 0)::bigint AS tokens_out,
    round(COALESCE(sum(x.cost_usd), 0)::numeric, 6)::float8 AS cost_usd"""


async def spec_usage(conn: AsyncConnection, spec_id: str) -> Usage:
    async with conn.cursor(row_factory=class_row(Usage)) as cur:
        await cur.execute(
            f"""SELECT {USAGE} FROM orchestrator.task_attempts x
                JOIN orchestrator.tasks t ON t.id = x.task_id WHERE t.spec_id = %s""",
            (spec_id,),
        )
        row = await cur.fetchone()
    return row or Usage()


async def latest_execution(conn: AsyncConnection, spec_id: str) -> ExecutionRow | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT e.id::text, e.status, e.concurrency, e.waves_executed, e.tasks_completed, e.tasks_failed,
                      e.tasks_in_review, COALESCE(e.wall_seconds, 0)::float8 AS wall_seconds,
                      COALESCE(e.sequential_seconds, 0)::float8 AS sequential_seconds,
                      e.started_at, e.finished_at
               FROM orchestrator.executions e WHERE e.spec_id = %s
               ORDER BY e.started_at DESC, e.id DESC LIMIT 1""",
            (spec_id,),
        )
        row: dict[str, Any] | None = await cur.fetchone()
    if row is None:
        return None
    async with conn.cursor(row_factory=class_row(Usage)) as cur:
        await cur.execute(
            f"SELECT {USAGE} FROM orchestrator.task_attempts x WHERE x.execution_id = %s", (row["id"],)
        )
        usage = await cur.fetchone()
    return ExecutionRow(**row, usage=usage or Usage())
