"""SQL of status changes: lock the task, write the change with its audit row and event in
one round trip, find the dependents it unblocks and the containers above it."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from services.orchestrator.records import TaskRecord
from services.orchestrator.repository import TASK_COLUMNS


async def lock_task(conn: AsyncConnection, task_id: str) -> tuple[TaskRecord, list[tuple[str, str]]] | None:
    """The task, locked for update, with the (key, status) of its dependencies not yet done."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""SELECT {TASK_COLUMNS}, ARRAY(
                    SELECT o.key || '=' || o.status FROM orchestrator.task_dependencies d
                    JOIN orchestrator.tasks o ON o.id = d.depends_on_id
                    WHERE d.task_id = t.id AND o.status NOT IN ('COMPLETED', 'SKIPPED') ORDER BY o.key
                ) AS waiting
                FROM orchestrator.tasks t WHERE t.id = %s FOR UPDATE OF t""",
            (task_id,),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    waiting = [tuple(item.rsplit("=", 1)) for item in row.pop("waiting")]
    return TaskRecord(**row), waiting  # type: ignore[misc]


async def change_status(
    conn: AsyncConnection,
    task_id: str,
    previous: str,
    status: str,
    *,
    action: str,
    reason: str,
    user: str,
    request_id: str | None,
    channel: str,
    assigned_to: str | None = None,
) -> TaskRecord:
    """Update the status, write its audit row and publish its event in one round trip.

    pg_notify inside the transaction delivers the event exactly when it commits."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""WITH t AS (
                    UPDATE orchestrator.tasks t SET status = %(status)s::varchar,
                        assigned_to = COALESCE(%(assigned_to)s, t.assigned_to),
                        -- A lease only means something on a RUNNING task: any other status ends it.
                        lease_id = CASE WHEN %(status)s::text = 'RUNNING' THEN t.lease_id END,
                        lease_owner = CASE WHEN %(status)s::text = 'RUNNING' THEN t.lease_owner END,
                        lease_expires_at = CASE WHEN %(status)s::text = 'RUNNING' THEN t.lease_expires_at END,
                        lease_seconds = CASE WHEN %(status)s::text = 'RUNNING' THEN t.lease_seconds END,
                        version = t.version + 1, updated_at = now()
                    WHERE t.id = %(id)s RETURNING {TASK_COLUMNS}
                ), audit AS (
                    INSERT INTO orchestrator.audit_log
                        (id, entity_type, entity_id, spec_id, action, changes, user_id, request_id)
                    SELECT gen_random_uuid(), 'task', t.id::uuid, t.spec_id::uuid, %(action)s,
                        jsonb_build_object('from', %(previous)s::text, 'to', t.status, 'reason', %(reason)s::text),
                        %(user)s, %(request_id)s
                    FROM t
                )
                SELECT t.*, pg_notify(%(channel)s, json_build_object(
                    'spec_id', t.spec_id, 'task_id', t.id, 'task_key', t.key,
                    'previous_status', %(previous)s::text, 'status', t.status, 'reason', %(reason)s::text,
                    'actor', %(user)s::text, 'at', clock_timestamp())::text) AS notified
                FROM t""",
            {
                "id": task_id,
                "status": status,
                "assigned_to": assigned_to,
                "action": action,
                "previous": previous,
                "reason": reason,
                "user": user,
                "request_id": request_id,
                "channel": channel,
            },
        )
        row = await cur.fetchone()
    assert row is not None
    row.pop("notified")
    return TaskRecord(**row)


async def ancestors(
    conn: AsyncConnection, parent_id: str, lock: bool
) -> list[tuple[str, str, str, dict[str, str]]]:
    """Phase and group ancestors from the nearest up, each as (id, type, status,
    {child id: status} of its non-subtask children); locked for update when `lock`."""
    async with conn.cursor() as cur:
        await cur.execute(
            """WITH RECURSIVE chain AS (
                   SELECT id, parent_id, 0 AS depth FROM orchestrator.tasks WHERE id = %s
                   UNION ALL
                   SELECT p.id, p.parent_id, chain.depth + 1 FROM orchestrator.tasks p JOIN chain ON p.id = chain.parent_id
               )
               SELECT p.id::text, p.task_type, p.status FROM orchestrator.tasks p JOIN chain USING (id)
               WHERE p.task_type IN ('PHASE', 'TASK_GROUP') ORDER BY chain.depth"""
            + (" FOR UPDATE OF p" if lock else ""),
            (parent_id,),
        )
        rows = await cur.fetchall()
        if not rows:
            return []
        await cur.execute(
            """SELECT parent_id::text, array_agg(id::text || '=' || status) FROM orchestrator.tasks
               WHERE parent_id = ANY(%s::uuid[]) AND task_type <> 'SUBTASK' GROUP BY parent_id""",
            ([a[0] for a in rows],),
        )
        children = {row[0]: dict(item.split("=", 1) for item in row[1]) for row in await cur.fetchall()}
    return [(a[0], a[1], a[2], children.get(a[0], {})) for a in rows]


async def unblockable_dependents(conn: AsyncConnection, task_id: str) -> list[tuple[str, str]]:
    """Waiting dependents of task_id whose dependencies are now all done (locked for update)."""
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT t.id::text, t.status FROM orchestrator.task_dependencies d
               JOIN orchestrator.tasks t ON t.id = d.task_id
               WHERE d.depends_on_id = %s AND t.status IN ('PENDING', 'BLOCKED')
                 AND NOT EXISTS (
                   SELECT 1 FROM orchestrator.task_dependencies d2
                   JOIN orchestrator.tasks o ON o.id = d2.depends_on_id
                   WHERE d2.task_id = t.id AND o.status NOT IN ('COMPLETED', 'SKIPPED'))
               ORDER BY t.id FOR UPDATE OF t""",
            (task_id,),
        )
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def blockable_dependents(conn: AsyncConnection, task_id: str) -> list[tuple[str, str]]:
    """Waiting tasks that depend on task_id directly or through other unfinished tasks
    (locked for update). The walk stops at finished tasks: what a SKIPPED or COMPLETED
    task stands for no longer waits on anything."""
    async with conn.cursor() as cur:
        await cur.execute(
            """WITH RECURSIVE down(id) AS (
                   SELECT d.task_id FROM orchestrator.task_dependencies d
                   JOIN orchestrator.tasks t ON t.id = d.task_id
                   WHERE d.depends_on_id = %(id)s AND t.status NOT IN ('COMPLETED', 'SKIPPED')
                   UNION
                   SELECT d.task_id FROM down JOIN orchestrator.task_dependencies d ON d.depends_on_id = down.id
                   JOIN orchestrator.tasks t ON t.id = d.task_id
                   WHERE t.status NOT IN ('COMPLETED', 'SKIPPED')
               )
               SELECT t.id::text, t.status FROM orchestrator.tasks t
               WHERE t.id IN (SELECT id FROM down) AND t.status IN ('PENDING', 'READY')
               ORDER BY t.id FOR UPDATE OF t""",
            {"id": task_id},
        )
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def audit_seen(conn: AsyncConnection, entity_id: str, request_id: str) -> bool:
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT 1 FROM orchestrator.audit_log WHERE entity_id = %s AND request_id = %s LIMIT 1",
            (entity_id, request_id),
        )
        return await cur.fetchone() is not None
