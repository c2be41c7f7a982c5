"""What the pipeline records for learning (seed 002): a task's estimate against its actual
time, a retrospective of an execution, and a complexity snapshot of a spec.

Plain functions on the caller's connection (so they commit with the change they describe).
These rows are learning data kept forever: they name specs and tasks by id without
foreign keys, so they outlive the specs they came from."""

from __future__ import annotations

from collections import Counter
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from devmatrix.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.orchestrator import repository as repo
from services.orchestrator.insights.monitor import spec_or_not_found

FAILED_LISTED = 10
SLOWEST_LISTED = 3


async def record_estimate(
    conn: AsyncConnection, task_id: str, actual_seconds: float, planned_effort: int | None = None
) -> dict[str, Any]:
    """Store how long a task took against its planned effort (default: the task's effort);
    one estimate per task, a later call replacing it (the task ran again)."""
    if not actual_seconds >= 0:
        raise InvalidArgument(
            f"actual_seconds must be >= 0 (got {actual_seconds})", [FieldViolation("actual_seconds", ">= 0")]
        )
    task = await repo.get_task(conn, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found", "task", task_id)
    effort = task.effort if planned_effort is None else planned_effort
    if effort < 0:
        raise InvalidArgument(
            f"planned_effort must be >= 0 (got {effort})", [FieldViolation("planned_effort", ">= 0")]
        )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """INSERT INTO orchestrator.estimates (task_id, spec_id, kind, planned_effort, actual_seconds)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (task_id) DO UPDATE SET kind = EXCLUDED.kind,
                   planned_effort = EXCLUDED.planned_effort, actual_seconds = EXCLUDED.actual_seconds,
                   created_at = now()
               RETURNING task_id::text, spec_id::text, kind, planned_effort, actual_seconds, created_at""",
            (task_id, task.spec_id, task.kind, effort, float(actual_seconds)),
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def summarize(conn: AsyncConnection, spec_id: str, execution_id: str | None = None) -> dict[str, Any]:
    """What went well and badly: tasks by status, first-time successes, retries, failures
    with their last error, the review queue, the slowest tasks and the usage (of one
    execution's attempts when execution_id is given, else of every attempt)."""
    await spec_or_not_found(conn, spec_id)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT t.key, t.status, COALESCE(a.n, 0)::int AS attempts, a.seconds, a.tokens, a.cost,
                      a.last_error
               FROM orchestrator.tasks t LEFT JOIN LATERAL (
                   SELECT count(*) AS n,
                          sum(extract(epoch FROM x.finished_at - x.started_at))::float8 AS seconds,
                          sum(x.tokens_in + x.tokens_out)::bigint AS tokens, sum(x.cost_usd)::float8 AS cost,
                          (array_agg(x.error ORDER BY x.attempt DESC) FILTER (WHERE NOT x.success))[1]
                              AS last_error
                   FROM orchestrator.task_attempts x
                   WHERE x.task_id = t.id AND (%(execution)s::uuid IS NULL OR x.execution_id = %(execution)s)
               ) a ON true
               WHERE t.spec_id = %(spec)s AND t.task_type = 'TASK' ORDER BY t.position""",
            {"spec": spec_id, "execution": execution_id},
        )
        rows = await cur.fetchall()
    by_status = Counter(r["status"] for r in rows)
    first_time = [r["key"] for r in rows if r["status"] == "COMPLETED" and r["attempts"] == 1]
    retried = [r for r in rows if r["attempts"] > 1]
    failed = [{"key": r["key"], "error": r["last_error"] or ""} for r in rows if r["status"] == "FAILED"]
    review = [r["key"] for r in rows if r["status"] == "NEEDS_REVIEW"]
    timed = sorted((r for r in rows if r["seconds"] is not None), key=lambda r: (-r["seconds"], r["key"]))
    well = [f"{len(first_time)} of {len(rows)} tasks completed on their first attempt"] if first_time else []
    if rows and by_status["COMPLETED"] + by_status["SKIPPED"] == len(rows):
        well.append("every task finished")
    badly = (
        [f"{len(failed)} tasks failed: {', '.join(f['key'] for f in failed[:FAILED_LISTED])}"]
        if failed
        else []
    )
    if retried:
        badly.append(
            f"{len(retried)} tasks needed retries ({sum(r['attempts'] - 1 for r in retried)} extra attempts)"
        )
    if review:
        badly.append(f"{len(review)} tasks wait for human review")
    return {
        "execution_id": execution_id,
        "tasks": len(rows),
        "by_status": dict(sorted(by_status.items())),
        "attempts": sum(r["attempts"] for r in rows),
        "retries": sum(max(r["attempts"] - 1, 0) for r in rows),
        "first_attempt_successes": len(first_time),
        "failed": failed[:FAILED_LISTED],
        "needs_review": review,
        "slowest": [{"key": r["key"], "seconds": round(r["seconds"], 3)} for r in timed[:SLOWEST_LISTED]],
        "tokens": sum(r["tokens"] or 0 for r in rows),
        "cost_usd": round(sum(r["cost"] or 0.0 for r in rows), 6),
        "went_well": well,
        "went_badly": badly,
    }


async def record_retrospective(
    conn: AsyncConnection,
    spec_id: str,
    summary: dict[str, Any] | None = None,
    execution_id: str | None = None,
) -> str:
    """Store a retrospective (default summary: `summarize`); returns its id."""
    if summary is None:
        summary = await summarize(conn, spec_id, execution_id)
    else:
        await spec_or_not_found(conn, spec_id)
    retrospective_id = repo.new_id()
    await conn.execute(
        """INSERT INTO orchestrator.retrospectives (id, spec_id, execution_id, summary)
           VALUES (%s, %s, %s, %s)""",
        (retrospective_id, spec_id, execution_id, Jsonb(summary)),
    )
    return retrospective_id


async def record_complexity_snapshot(conn: AsyncConnection, spec_id: str) -> dict[str, Any]:
    """The spec's size now: executable tasks, waves, total and critical-path effort."""
    spec = await spec_or_not_found(conn, spec_id)
    analysis = spec.analysis or {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """INSERT INTO orchestrator.complexity_snapshots
                   (spec_id, task_count, waves, total_effort, critical_path_effort)
               SELECT %(spec)s, count(*), (SELECT count(*) FROM orchestrator.waves WHERE spec_id = %(spec)s),
                      COALESCE(sum(effort), 0), %(critical)s
               FROM orchestrator.tasks WHERE spec_id = %(spec)s AND task_type = 'TASK'
               RETURNING spec_id::text, task_count, waves, total_effort, critical_path_effort, created_at""",
            {"spec": spec_id, "critical": int(analysis.get("critical_path_effort") or 0)},
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def record_execution_learning(conn: AsyncConnection, spec_id: str, execution_id: str) -> str:
    """After an execution: an estimate for each task it completed (the time of its attempts
    in this execution against the planned effort), a complexity snapshot and a
    retrospective; returns the retrospective's id."""
    cur = await conn.execute(
        """SELECT a.task_id::text, sum(extract(epoch FROM a.finished_at - a.started_at))::float8
           FROM orchestrator.task_attempts a JOIN orchestrator.tasks t ON t.id = a.task_id
           WHERE a.execution_id = %s AND t.status = 'COMPLETED'
           GROUP BY a.task_id""",
        (execution_id,),
    )
    for task_id, seconds in await cur.fetchall():
        await record_estimate(conn, task_id, max(seconds or 0.0, 0.0))
    await record_complexity_snapshot(conn, spec_id)
    return await record_retrospective(conn, spec_id, execution_id=execution_id)
