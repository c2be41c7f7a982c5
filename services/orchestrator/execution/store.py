"""SQL of executions, the retry history (task_attempts) and the agent logs. Functions take
the caller's connection so a task's completion and its execution's counters commit together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

RUNNING, COMPLETED, FAILED, CANCELLED = "RUNNING", "COMPLETED", "FAILED", "CANCELLED"
# Summaries in agent_logs are for people scanning a table, not a second copy of the code.
MAX_SUMMARY = 2000


@dataclass
class ExecutionRecord:
    id: str
    spec_id: str
    status: str
    concurrency: int
    wave: int | None
    request_id: str | None
    waves_executed: int
    tasks_completed: int
    tasks_failed: int
    tasks_in_review: int
    wall_seconds: float
    sequential_seconds: float
    cancel_requested: bool
    error: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass
class AttemptRow:
    """One generation attempt of a task: a row of the retry history."""

    task_id: str
    execution_id: str | None
    attempt: int
    agent: str
    started_at: datetime
    success: bool
    generator: str = ""
    temperature: float | None = None
    error: str | None = None
    confidence: float | None = None
    overall_score: float | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass
class AgentLog:
    spec_id: str
    task_id: str | None
    execution_id: str | None
    agent: str
    phase: str
    action: str
    duration_ms: int
    success: bool
    input_summary: str = ""
    output_summary: str = ""
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


# wall_seconds of a running execution is how long it has run so far.
EXECUTION_COLUMNS = """
    e.id::text, e.spec_id::text, e.status, e.concurrency, e.wave, e.request_id, e.waves_executed,
    e.tasks_completed, e.tasks_failed, e.tasks_in_review,
    CASE WHEN e.finished_at IS NULL THEN extract(epoch FROM clock_timestamp() - e.started_at)::float8
         ELSE e.wall_seconds END AS wall_seconds,
    e.sequential_seconds, e.cancel_requested, e.error, e.started_at, e.finished_at
"""


async def insert_execution(
    conn: AsyncConnection,
    execution_id: str,
    spec_id: str,
    concurrency: int,
    wave: int | None,
    request_id: str | None,
) -> ExecutionRecord:
    async with conn.cursor(row_factory=class_row(ExecutionRecord)) as cur:
        await cur.execute(
            f"""WITH e AS (
                    INSERT INTO orchestrator.executions (id, spec_id, concurrency, wave, request_id)
                    VALUES (%s, %s, %s, %s, %s) RETURNING *)
                SELECT {EXECUTION_COLUMNS} FROM e""",
            (execution_id, spec_id, concurrency, wave, request_id),
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def get_execution(
    conn: AsyncConnection, execution_id: str, lock: bool = False
) -> ExecutionRecord | None:
    async with conn.cursor(row_factory=class_row(ExecutionRecord)) as cur:
        await cur.execute(
            f"SELECT {EXECUTION_COLUMNS} FROM orchestrator.executions e WHERE e.id = %s"
            + (" FOR UPDATE" if lock else ""),
            (execution_id,),
        )
        return await cur.fetchone()


async def execution_by_request_id(conn: AsyncConnection, request_id: str) -> ExecutionRecord | None:
    async with conn.cursor(row_factory=class_row(ExecutionRecord)) as cur:
        await cur.execute(
            f"SELECT {EXECUTION_COLUMNS} FROM orchestrator.executions e WHERE e.request_id = %s",
            (request_id,),
        )
        return await cur.fetchone()


async def running_execution(conn: AsyncConnection, spec_id: str) -> ExecutionRecord | None:
    async with conn.cursor(row_factory=class_row(ExecutionRecord)) as cur:
        await cur.execute(
            f"SELECT {EXECUTION_COLUMNS} FROM orchestrator.executions e "
            "WHERE e.spec_id = %s AND e.status = 'RUNNING'",
            (spec_id,),
        )
        return await cur.fetchone()


async def running_executions(conn: AsyncConnection) -> list[ExecutionRecord]:
    async with conn.cursor(row_factory=class_row(ExecutionRecord)) as cur:
        await cur.execute(
            f"SELECT {EXECUTION_COLUMNS} FROM orchestrator.executions e "
            "WHERE e.status = 'RUNNING' ORDER BY e.started_at"
        )
        return await cur.fetchall()


async def request_cancel(conn: AsyncConnection, execution_id: str) -> None:
    await conn.execute(
        "UPDATE orchestrator.executions SET cancel_requested = true WHERE id = %s AND status = 'RUNNING'",
        (execution_id,),
    )


async def cancel_requested(conn: AsyncConnection, execution_id: str) -> bool:
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT cancel_requested FROM orchestrator.executions WHERE id = %s", (execution_id,)
        )
        row = await cur.fetchone()
    return bool(row and row[0])


async def tally(conn: AsyncConnection, execution_id: str, status: str, seconds: float) -> None:
    """Count one finished task in its execution, in the transaction that finished it, so
    the counts stay exact across a crash and a resume."""
    await conn.execute(
        """UPDATE orchestrator.executions SET
               tasks_completed = tasks_completed + (%(s)s = 'COMPLETED')::int,
               tasks_failed = tasks_failed + (%(s)s = 'FAILED')::int,
               tasks_in_review = tasks_in_review + (%(s)s = 'NEEDS_REVIEW')::int,
               sequential_seconds = sequential_seconds + %(seconds)s
           WHERE id = %(id)s""",
        {"s": status, "seconds": seconds, "id": execution_id},
    )


async def finish_execution(conn: AsyncConnection, execution_id: str, status: str, error: str | None) -> None:
    """Final status and times; waves_executed counts the waves in which this execution ran
    a task, however many processes it took (resume)."""
    await conn.execute(
        """UPDATE orchestrator.executions e SET status = %(status)s, error = %(error)s,
               finished_at = clock_timestamp(),
               wall_seconds = extract(epoch FROM clock_timestamp() - e.started_at),
               waves_executed = (
                   SELECT count(DISTINCT t.wave) FROM orchestrator.task_attempts a
                   JOIN orchestrator.tasks t ON t.id = a.task_id WHERE a.execution_id = e.id)
           WHERE e.id = %(id)s AND e.status = 'RUNNING'""",
        {"status": status, "error": error, "id": execution_id},
    )


async def set_spec_status(conn: AsyncConnection, spec_id: str, status: str) -> None:
    await conn.execute(
        "UPDATE orchestrator.specs SET status = %s, updated_at = now() WHERE id = %s", (status, spec_id)
    )


async def audit_execution(
    conn: AsyncConnection,
    execution: ExecutionRecord,
    action: str,
    changes: dict[str, Any],
    user: str,
    request_id: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO orchestrator.audit_log
               (id, entity_type, entity_id, spec_id, action, changes, user_id, request_id)
           VALUES (gen_random_uuid(), 'execution', %s, %s, %s, %s, %s, %s)""",
        (execution.id, execution.spec_id, action, Jsonb(changes), user[:100], request_id),
    )


async def wave_numbers(conn: AsyncConnection, spec_id: str) -> list[int]:
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT number FROM orchestrator.waves WHERE spec_id = %s ORDER BY number", (spec_id,)
        )
        return [row[0] for row in await cur.fetchall()]


async def unscheduled_tasks(conn: AsyncConnection, spec_id: str) -> int:
    """Executable tasks without a wave: the spec was never analyzed (or only partly)."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT count(*) FROM orchestrator.tasks WHERE spec_id = %s AND task_type = 'TASK' AND wave IS NULL",
            (spec_id,),
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def scope_counts(conn: AsyncConnection, spec_id: str, wave: int | None) -> dict[str, int]:
    """Executable tasks of the scope (one wave or all) by status."""
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT status, count(*) FROM orchestrator.tasks
               WHERE spec_id = %s AND task_type = 'TASK' AND (%s::int IS NULL OR wave = %s::int)
               GROUP BY status""",
            (spec_id, wave, wave),
        )
        return {row[0]: int(row[1]) for row in await cur.fetchall()}


async def first_ready_wave(conn: AsyncConnection, spec_id: str, wave: int | None) -> int | None:
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT min(wave) FROM orchestrator.tasks WHERE spec_id = %s AND status = 'READY'
               AND task_type = 'TASK' AND (%s::int IS NULL OR wave = %s::int)""",
            (spec_id, wave, wave),
        )
        row = await cur.fetchone()
    return row[0] if row else None


async def running_in_wave(conn: AsyncConnection, spec_id: str, wave: int) -> list[str]:
    """Lease ids of the wave's RUNNING tasks (NULL-leased ones as '')."""
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT COALESCE(lease_id::text, '') FROM orchestrator.tasks
               WHERE spec_id = %s AND wave = %s AND status = 'RUNNING' AND task_type = 'TASK'""",
            (spec_id, wave),
        )
        return [row[0] for row in await cur.fetchall()]


async def failed_in_scope(conn: AsyncConnection, spec_id: str, wave: int | None) -> list[str]:
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT id::text FROM orchestrator.tasks WHERE spec_id = %s AND status = 'FAILED'
               AND task_type = 'TASK' AND (%s::int IS NULL OR wave = %s::int) ORDER BY position""",
            (spec_id, wave, wave),
        )
        return [row[0] for row in await cur.fetchall()]


async def insert_attempt(conn: AsyncConnection, a: AttemptRow) -> None:
    """The attempt's history row, and the task's attempt count with it."""
    await conn.execute(
        """INSERT INTO orchestrator.task_attempts
               (task_id, execution_id, attempt, agent, generator, temperature, success, error, confidence,
                overall_score, findings, tokens_in, tokens_out, cost_usd, started_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            a.task_id,
            a.execution_id,
            a.attempt,
            a.agent[:100],
            a.generator[:100],
            a.temperature,
            a.success,
            a.error,
            a.confidence,
            a.overall_score,
            Jsonb(a.findings),
            a.tokens_in,
            a.tokens_out,
            a.cost_usd,
            a.started_at,
        ),
    )
    await conn.execute(
        "UPDATE orchestrator.tasks SET attempts = GREATEST(attempts, %s) WHERE id = %s",
        (a.attempt, a.task_id),
    )


async def insert_agent_log(conn: AsyncConnection, log: AgentLog) -> None:
    await conn.execute(
        """INSERT INTO orchestrator.agent_logs
               (spec_id, task_id, execution_id, agent, phase, action, input_summary, output_summary,
                duration_ms, success, error, tokens_in, tokens_out, cost_usd)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            log.spec_id,
            log.task_id,
            log.execution_id,
            log.agent[:100],
            log.phase[:50],
            log.action[:100],
            log.input_summary[:MAX_SUMMARY],
            log.output_summary[:MAX_SUMMARY],
            log.duration_ms,
            log.success,
            log.error,
            log.tokens_in,
            log.tokens_out,
            log.cost_usd,
        ),
    )


async def attempts_of(conn: AsyncConnection, task_id: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT attempt, execution_id::text, agent, generator, success, error, confidence, findings,
                      started_at, finished_at
               FROM orchestrator.task_attempts WHERE task_id = %s ORDER BY id""",
            (task_id,),
        )
        return await cur.fetchall()


async def previous_feedback(conn: AsyncConnection, task_id: str) -> tuple[int, list[dict[str, Any]], str]:
    """The task's attempts so far, and what its last attempt left to learn from: the findings
    of its validation and its error, plus a reviewer's comment when a human asked for a
    regeneration after it."""
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT t.attempts, a.findings, COALESCE(a.error, ''), (
                   SELECT r.content ->> 'comment' FROM orchestrator.reports r
                   WHERE r.task_id = t.id AND r.report_type = 'REVIEW'
                     AND r.content ->> 'decision' = 'REGENERATE'
                     AND (a.finished_at IS NULL OR r.created_at > a.finished_at)
                   ORDER BY r.created_at DESC LIMIT 1)
               FROM orchestrator.tasks t
               LEFT JOIN LATERAL (
                   SELECT findings, error, finished_at FROM orchestrator.task_attempts
                   WHERE task_id = t.id ORDER BY id DESC LIMIT 1) a ON true
               WHERE t.id = %s""",
            (task_id,),
        )
        row = await cur.fetchone()
    if row is None:
        return 0, [], ""
    attempts, findings, error, comment = row
    if comment:
        error = f"{error}\nReviewer asked for a regeneration: {comment}".strip()
    return int(attempts), list(findings or []), error


async def spec_files(conn: AsyncConnection, spec_id: str) -> list[tuple[str, str, str, str, str]]:
    """(task id, task key, path, content, language) of the spec's generated files, one per
    path: a path two tasks wrote is the one of the later task (by wave, then key)."""
    cur = await conn.execute(
        """SELECT DISTINCT ON (f.path) t.id::text, t.key, f.path, f.content, f.language
           FROM orchestrator.task_files f JOIN orchestrator.tasks t ON t.id = f.task_id
           WHERE t.spec_id = %s
           ORDER BY f.path, t.wave DESC NULLS LAST, t.key DESC""",
        (spec_id,),
    )
    return [tuple(row) for row in await cur.fetchall()]  # type: ignore[misc]
