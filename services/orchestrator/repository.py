"""SQL of the orchestrator's schema. Every function takes the connection of the caller's
transaction, so a change and its audit rows always commit together."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from devmatrix.stores.graph import GraphTask
from services.orchestrator.records import (
    AuditRecord,
    ReportRecord,
    RequirementRecord,
    SpecRecord,
    TaskRecord,
)

TASK_COLUMNS = """
    t.id::text, t.spec_id::text, t.parent_id::text, t.key, t.task_type, t.name, t.description,
    t.status, t.effort, t.assigned_to, t.phase, t.priority, t.kind, t.acceptance_criteria,
    t.expected_output, t.required_skills,
    CASE WHEN t.task_type = 'TASK' THEN ARRAY(
        SELECT d.depends_on_id::text FROM orchestrator.task_dependencies d
        WHERE d.task_id = t.id ORDER BY d.depends_on_id)
    ELSE ARRAY(SELECT jsonb_array_elements_text(t.dependencies)) END AS depends_on,
    t.wave, t.position, t.version, t.created_at, t.updated_at
"""

SPEC_COLUMNS = """
    s.id::text, s.name, s.title, s.format, s.status, s.content,
    s.task_count,
    s.analysis, s.created_at, s.updated_at
"""


def new_id() -> str:
    return str(uuid.uuid4())


# --- specs -------------------------------------------------------------------------------


async def insert_spec(
    conn: AsyncConnection,
    spec: SpecRecord,
    source: str,
    source_sha256: str,
    request_id: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO orchestrator.specs
               (id, name, title, format, status, content, source, source_sha256, request_id, task_count)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            spec.id,
            spec.name,
            spec.title,
            spec.format,
            spec.status,
            Jsonb(spec.content),
            source,
            source_sha256,
            request_id,
            spec.task_count,
        ),
    )


async def spec_by_request_id(conn: AsyncConnection, request_id: str) -> tuple[SpecRecord, str] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id::text, source_sha256 FROM orchestrator.specs WHERE request_id = %s", (request_id,)
        )
        row = await cur.fetchone()
    if row is None:
        return None
    spec = await get_spec(conn, row["id"])
    assert spec is not None
    return spec, row["source_sha256"]


async def get_spec(conn: AsyncConnection, spec_id: str) -> SpecRecord | None:
    async with conn.cursor(row_factory=class_row(SpecRecord)) as cur:
        await cur.execute(f"SELECT {SPEC_COLUMNS} FROM orchestrator.specs s WHERE s.id = %s", (spec_id,))
        return await cur.fetchone()


async def list_specs(conn: AsyncConnection, after: tuple[str, str] | None, limit: int) -> list[SpecRecord]:
    where, params = "", [limit]
    if after is not None:
        where = "WHERE (s.created_at, s.id) > (%s::timestamptz, %s::uuid)"
        params = [after[0], after[1], limit]
    async with conn.cursor(row_factory=class_row(SpecRecord)) as cur:
        await cur.execute(
            f"SELECT {SPEC_COLUMNS} FROM orchestrator.specs s {where} ORDER BY s.created_at, s.id LIMIT %s",
            params,
        )
        return await cur.fetchall()


async def set_spec_analysis(conn: AsyncConnection, spec_id: str, analysis: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE orchestrator.specs SET analysis = %s, updated_at = now(),
           status = CASE WHEN status = 'PLANNED' THEN 'ANALYZED' ELSE status END WHERE id = %s""",
        (Jsonb(analysis), spec_id),
    )


async def insert_requirements(conn: AsyncConnection, spec_id: str, rows: Sequence[RequirementRecord]) -> None:
    async with (
        conn.cursor() as cur,
        cur.copy(
            "COPY orchestrator.requirements (id, spec_id, key, category, text, priority, position) FROM STDIN"
        ) as copy,
    ):
        for position, r in enumerate(rows):
            await copy.write_row((r.id, spec_id, r.key, r.category, r.text, r.priority, position))


async def requirements(conn: AsyncConnection, spec_id: str) -> list[RequirementRecord]:
    async with conn.cursor(row_factory=class_row(RequirementRecord)) as cur:
        await cur.execute(
            """SELECT id::text, key, category, text, priority FROM orchestrator.requirements
               WHERE spec_id = %s ORDER BY position""",
            (spec_id,),
        )
        return await cur.fetchall()


# --- tasks -------------------------------------------------------------------------------


async def insert_tasks(
    conn: AsyncConnection,
    tasks: Sequence[TaskRecord],
    declared: dict[str, list[str]],
    edges: Iterable[tuple[str, str]],
) -> None:
    """Bulk insert with COPY; parents precede children in `tasks` so the FK holds."""
    async with conn.cursor() as cur:
        async with cur.copy(
            """COPY orchestrator.tasks (id, spec_id, parent_id, key, task_type, name, description, status,
               effort, assigned_to, phase, priority, kind, acceptance_criteria, expected_output,
               required_skills, dependencies, position) FROM STDIN"""
        ) as copy:
            for t in tasks:
                await copy.write_row(
                    (
                        t.id,
                        t.spec_id,
                        t.parent_id,
                        t.key,
                        t.task_type,
                        t.name,
                        t.description,
                        t.status,
                        t.effort,
                        t.assigned_to,
                        t.phase,
                        t.priority,
                        t.kind,
                        Jsonb(t.acceptance_criteria),
                        t.expected_output,
                        t.required_skills,
                        Jsonb(declared.get(t.id, [])),
                        t.position,
                    )
                )
        async with cur.copy(
            "COPY orchestrator.task_dependencies (task_id, depends_on_id) FROM STDIN"
        ) as copy:
            for task_id, dep_id in edges:
                await copy.write_row((task_id, dep_id))


async def refresh_statistics(conn: AsyncConnection) -> None:
    """ANALYZE after a bulk load: autovacuum would catch up within a minute, but until then
    the planner would cost lookups on a table it believes is a fraction of its size."""
    await conn.execute("ANALYZE orchestrator.tasks, orchestrator.task_dependencies, orchestrator.audit_log")


async def get_task(conn: AsyncConnection, task_id: str, for_update: bool = False) -> TaskRecord | None:
    lock = " FOR UPDATE OF t" if for_update else ""
    async with conn.cursor(row_factory=class_row(TaskRecord)) as cur:
        await cur.execute(
            f"SELECT {TASK_COLUMNS} FROM orchestrator.tasks t WHERE t.id = %s{lock}", (task_id,)
        )
        return await cur.fetchone()


async def task_neighbourhood(conn: AsyncConnection, task_id: str) -> dict[str, list[TaskRecord]]:
    """The task, its parent, its dependencies and its dependents in one round trip, by role."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""WITH me AS (SELECT id, parent_id, task_type, dependencies FROM orchestrator.tasks WHERE id = %(id)s),
                related AS (
                    SELECT 'task' AS role, id FROM me
                    UNION ALL SELECT 'parent', parent_id FROM me WHERE parent_id IS NOT NULL
                    UNION ALL SELECT 'dependency', d.depends_on_id FROM orchestrator.task_dependencies d
                        JOIN me ON d.task_id = me.id AND me.task_type = 'TASK'
                    UNION ALL SELECT 'dependency', x::uuid FROM me, jsonb_array_elements_text(me.dependencies) x
                        WHERE me.task_type <> 'TASK'
                    UNION ALL SELECT 'dependent', d.task_id FROM orchestrator.task_dependencies d
                        JOIN me ON d.depends_on_id = me.id
                )
                SELECT related.role, {TASK_COLUMNS} FROM related JOIN orchestrator.tasks t ON t.id = related.id
                ORDER BY related.role, t.position""",
            {"id": task_id},
        )
        rows = await cur.fetchall()
    found: dict[str, list[TaskRecord]] = {"task": [], "parent": [], "dependency": [], "dependent": []}
    for row in rows:
        found[row.pop("role")].append(TaskRecord(**row))
    return found


async def list_tasks(
    conn: AsyncConnection,
    spec_id: str,
    after_position: int,
    limit: int,
    status: str | None = None,
    task_type: str | None = None,
    wave: int | None = None,
) -> tuple[list[TaskRecord], int]:
    """One page in hierarchy order plus the total number of matching tasks."""
    where = ["t.spec_id = %s"]
    params: list[Any] = [spec_id]
    for column, value in (("t.status", status), ("t.task_type", task_type), ("t.wave", wave)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    condition = " AND ".join(where)
    async with conn.cursor() as cur:
        await cur.execute(f"SELECT count(*) FROM orchestrator.tasks t WHERE {condition}", params)
        row = await cur.fetchone()
        total = int(row[0]) if row else 0
    async with conn.cursor(row_factory=class_row(TaskRecord)) as cur:
        await cur.execute(
            f"SELECT {TASK_COLUMNS} FROM orchestrator.tasks t WHERE {condition} AND t.position > %s "
            "ORDER BY t.position LIMIT %s",
            [*params, after_position, limit],
        )
        return await cur.fetchall(), total


async def spec_graph(
    conn: AsyncConnection, spec_id: str
) -> tuple[list[GraphTask], list[tuple[str, str]], dict[str, str]]:
    """What the graph store needs to rebuild a spec: its tasks, its TASK-level edges and
    the agent each assigned task is assigned to."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT id::text, key, name, task_type, status, effort, phase, kind, parent_id::text,
                      required_skills, assigned_to FROM orchestrator.tasks WHERE spec_id = %s ORDER BY position""",
            (spec_id,),
        )
        rows = await cur.fetchall()
        await cur.execute(
            """SELECT d.task_id::text, d.depends_on_id::text FROM orchestrator.task_dependencies d
               JOIN orchestrator.tasks t ON t.id = d.task_id WHERE t.spec_id = %s""",
            (spec_id,),
        )
        edges = [(r["task_id"], r["depends_on_id"]) for r in await cur.fetchall()]
    tasks = [
        GraphTask(
            id=r["id"],
            spec_id=spec_id,
            key=r["key"],
            name=r["name"],
            type=r["task_type"],
            status=r["status"],
            effort=r["effort"],
            phase=r["phase"],
            kind=r["kind"],
            parent_id=r["parent_id"],
            skills=tuple(r["required_skills"]),
        )
        for r in rows
    ]
    return tasks, edges, {r["id"]: r["assigned_to"] for r in rows if r["assigned_to"]}


async def write_waves(
    conn: AsyncConnection, spec_id: str, waves: dict[str, int], wave_rows: Sequence[tuple[int, int, int]]
) -> None:
    """Store each TASK's wave (subtasks inherit their parent's) and the waves table.

    A spec's tasks never change after creation, so only waves that moved are written."""
    if waves:
        await conn.execute(
            """UPDATE orchestrator.tasks t SET wave = w.wave
               FROM unnest(%s::uuid[], %s::int[]) AS w(id, wave)
               WHERE t.id = w.id AND t.wave IS DISTINCT FROM w.wave""",
            (list(waves.keys()), list(waves.values())),
        )
        await conn.execute(
            """UPDATE orchestrator.tasks s SET wave = p.wave FROM orchestrator.tasks p
               WHERE s.parent_id = p.id AND s.task_type = 'SUBTASK' AND s.spec_id = %s
                 AND s.wave IS DISTINCT FROM p.wave""",
            (spec_id,),
        )
    await conn.execute("DELETE FROM orchestrator.waves WHERE spec_id = %s", (spec_id,))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO orchestrator.waves (spec_id, number, task_count, total_effort) VALUES (%s, %s, %s, %s)",
            [(spec_id, number, count, effort) for number, count, effort in wave_rows],
        )


async def task_efforts_and_ready(conn: AsyncConnection, spec_id: str) -> tuple[dict[str, int], list[str]]:
    """Effort of every TASK, and the TASKs that can start now (waiting, every dependency done)."""
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT t.id::text, t.effort, t.status IN ('PENDING', 'READY') AND NOT EXISTS (
                   SELECT 1 FROM orchestrator.task_dependencies d JOIN orchestrator.tasks o ON o.id = d.depends_on_id
                   WHERE d.task_id = t.id AND o.status NOT IN ('COMPLETED', 'SKIPPED'))
               FROM orchestrator.tasks t WHERE t.spec_id = %s AND t.task_type = 'TASK'""",
            (spec_id,),
        )
        rows = await cur.fetchall()
    return {r[0]: r[1] for r in rows}, sorted(r[0] for r in rows if r[2])


async def progress_rows(conn: AsyncConnection, spec_id: str) -> list[dict[str, Any]]:
    """Counts of executable tasks grouped by everything progress is reported by."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT phase, wave, COALESCE(assigned_to, '') AS agent, status,
                      count(*)::int AS n, sum(effort)::int AS effort
               FROM orchestrator.tasks WHERE spec_id = %s AND task_type = 'TASK'
               GROUP BY phase, wave, assigned_to, status""",
            (spec_id,),
        )
        return await cur.fetchall()


# --- audit log and reports ---------------------------------------------------------------


async def audit_many(
    conn: AsyncConnection, rows: Iterable[tuple[str, str, str | None, str, dict[str, Any], str, str | None]]
) -> None:
    async with (
        conn.cursor() as cur,
        cur.copy(
            """COPY orchestrator.audit_log (id, entity_type, entity_id, spec_id, action, changes, user_id, request_id)
           FROM STDIN"""
        ) as copy,
    ):
        for entity_type, entity_id, spec_id, action, changes, user_id, request_id in rows:
            await copy.write_row(
                (new_id(), entity_type, entity_id, spec_id, action, Jsonb(changes), user_id, request_id)
            )


async def audit_entries(conn: AsyncConnection, entity_id: str, after: int, limit: int) -> list[AuditRecord]:
    async with conn.cursor(row_factory=class_row(AuditRecord)) as cur:
        await cur.execute(
            """SELECT id::text, entity_type, entity_id::text, action, changes, user_id, request_id, "timestamp"
               FROM orchestrator.audit_log WHERE entity_id = %s ORDER BY "timestamp", id OFFSET %s LIMIT %s""",
            (entity_id, after, limit),
        )
        return await cur.fetchall()


async def insert_report(
    conn: AsyncConnection, task_id: str, report_type: str, content: dict[str, Any], request_id: str | None
) -> ReportRecord:
    async with conn.cursor(row_factory=class_row(ReportRecord)) as cur:
        await cur.execute(
            """INSERT INTO orchestrator.reports (id, task_id, report_type, content, request_id)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (request_id) DO UPDATE SET request_id = EXCLUDED.request_id
               RETURNING id::text, task_id::text, report_type, content, created_at""",
            (new_id(), task_id, report_type, Jsonb(content), request_id),
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def reports(conn: AsyncConnection, task_id: str) -> list[ReportRecord]:
    async with conn.cursor(row_factory=class_row(ReportRecord)) as cur:
        await cur.execute(
            """SELECT id::text, task_id::text, report_type, content, created_at FROM orchestrator.reports
               WHERE task_id = %s ORDER BY created_at, id""",
            (task_id,),
        )
        return await cur.fetchall()
