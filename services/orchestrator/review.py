"""The human review queue: tasks whose generated code a person must look at (low
confidence, validation not passed) and the decisions that take them out of it.

APPROVE accepts the stored files (COMPLETED; dependents unblock). EDIT replaces them with
the reviewer's files, then COMPLETED. REGENERATE sends the task back to READY: the next
ExecuteSpec or ExecuteWave runs it again, with its attempt history kept and the
reviewer's comment fed to the generator. Every decision is also a REVIEW report.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg.rows import class_row

from devmatrix.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from devmatrix.runtime.errors import PreconditionViolation as Violation
from services.orchestrator import repository as repo
from services.orchestrator import status_queries as queries
from services.orchestrator.domain import TaskStatus
from services.orchestrator.execution.files import TaskFile, check_files, files_of, replace_files
from services.orchestrator.leases import LeaseManager
from services.orchestrator.records import TaskRecord
from services.orchestrator.status import apply

MAX_COMMENT = 4000


class Decision(enum.StrEnum):
    APPROVE = "APPROVE"
    EDIT = "EDIT"
    REGENERATE = "REGENERATE"


@dataclass
class ReviewItem:
    task: TaskRecord
    reason: str
    confidence: float | None
    files: list[TaskFile]


async def review_queue(leases: LeaseManager, spec_id: str) -> list[ReviewItem]:
    """NEEDS_REVIEW tasks of the spec in hierarchy order, each with its reason and files."""
    async with leases.changes.db.pool.connection() as conn:
        if await repo.get_spec(conn, spec_id) is None:
            raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
        async with conn.cursor(row_factory=class_row(TaskRecord)) as cur:
            await cur.execute(
                f"""SELECT {repo.TASK_COLUMNS} FROM orchestrator.tasks t
                    WHERE t.spec_id = %s AND t.status = 'NEEDS_REVIEW' AND t.task_type = 'TASK'
                    ORDER BY t.position""",
                (spec_id,),
            )
            tasks = await cur.fetchall()
        async with conn.cursor() as cur:
            await cur.execute(
                """SELECT id::text, COALESCE(review_reason, ''), confidence FROM orchestrator.tasks
                   WHERE spec_id = %s AND status = 'NEEDS_REVIEW' AND task_type = 'TASK'""",
                (spec_id,),
            )
            extra = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
        files = await files_of(conn, [t.id for t in tasks])
    return [
        ReviewItem(t, extra.get(t.id, ("", None))[0], extra.get(t.id, ("", None))[1], files[t.id])
        for t in tasks
    ]


async def resolve_review(
    leases: LeaseManager,
    task_id: str,
    decision: Decision,
    files: list[TaskFile],
    comment: str,
    user: str,
    request_id: str | None = None,
) -> TaskRecord:
    if len(comment) > MAX_COMMENT:
        raise InvalidArgument(
            "comment is too long", [FieldViolation("comment", f"at most {MAX_COMMENT} characters")]
        )
    if decision == Decision.EDIT:
        if not files:
            raise InvalidArgument(
                "an EDIT decision needs the replacement files",
                [FieldViolation("files", "at least one file for REVIEW_DECISION_EDIT")],
            )
        check_files(files)
    elif files:
        raise InvalidArgument(
            f"files are only taken with an EDIT decision, not {decision}",
            [FieldViolation("files", "leave empty unless decision is REVIEW_DECISION_EDIT")],
        )
    async with leases.changes.locked(task_id, user, request_id) as t:
        if request_id and await queries.audit_seen(t.conn, task_id, request_id):
            return t.task  # Idempotent replay.
        if t.task.status != TaskStatus.NEEDS_REVIEW:
            raise FailedPrecondition(
                f"task {t.task.key} is {t.task.status}, not waiting for a review",
                [Violation("NOT_IN_REVIEW", t.task.key, f"status is {t.task.status}")],
            )
        if decision == Decision.EDIT:
            await replace_files(t.conn, task_id, files)
        target = TaskStatus.READY if decision == Decision.REGENERATE else TaskStatus.COMPLETED
        reason = f"review: {decision.lower()}" + (f" ({comment})" if comment else "")
        await repo.insert_report(
            t.conn,
            task_id,
            "REVIEW",
            {
                "decision": str(decision),
                "comment": comment,
                "reviewer": user,
                "review_reason": await _review_reason(t.conn, task_id),
                "files": [f.path for f in files],
            },
            request_id,
        )
        await t.conn.execute("UPDATE orchestrator.tasks SET review_reason = NULL WHERE id = %s", (task_id,))
        updated, _ = await apply(t.writer, leases.changes.graph, t.task, t.waiting, target, reason[:2000])
    await leases.refresh_review_queue()
    return updated


async def _review_reason(conn: AsyncConnection, task_id: str) -> str:
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT COALESCE(review_reason, '') FROM orchestrator.tasks WHERE id = %s", (task_id,)
        )
        row = await cur.fetchone()
    return str(row[0]) if row else ""


async def repair_files(
    leases: LeaseManager,
    task_id: str,
    files: list[TaskFile],
    repair: dict[str, object],
    user: str,
    request_id: str | None = None,
) -> TaskRecord:
    """A COMPLETED task's files replaced by their repaired version, with an audit row and a
    verification report naming the scores before and after."""
    if not files:
        raise InvalidArgument(
            "a repair needs the task's files", [FieldViolation("files", "at least one file")]
        )
    check_files(files)
    async with leases.changes.locked(task_id, user, request_id) as t:
        if request_id and await queries.audit_seen(t.conn, task_id, request_id):
            return t.task  # Idempotent replay.
        if t.task.status != TaskStatus.COMPLETED:
            raise FailedPrecondition(
                f"task {t.task.key} is {t.task.status}: only COMPLETED tasks are repaired",
                [Violation("NOT_COMPLETED", t.task.key, f"status is {t.task.status}")],
            )
        await replace_files(t.conn, task_id, files)
        content = {**repair, "files": [f.path for f in files], "repaired_by": user}
        await repo.insert_report(t.conn, task_id, "VERIFICATION", content, request_id)
        await repo.audit_many(
            t.conn, [("task", task_id, t.task.spec_id, "FILES_REPAIRED", content, user[:100], request_id)]
        )
        return t.task
