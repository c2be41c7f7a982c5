"""Status changes through the state machine: the change, its audit row, the dependents it
unblocks, the roll-up of its parents and the events all commit in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from psycopg import AsyncConnection

from devmatrix.runtime.errors import (
    Aborted,
    FailedPrecondition,
    NotFound,
    PreconditionViolation,
)
from devmatrix.stores.graph import GraphStore
from devmatrix.stores.postgres import Postgres
from services.orchestrator import repository as repo
from services.orchestrator.domain import TaskStatus, TaskType
from services.orchestrator.events import publish
from services.orchestrator.records import TaskRecord
from services.orchestrator.state_machine import (
    DONE,
    NEEDS_DEPENDENCIES_DONE,
    allowed_targets,
    can_transition,
    rollup,
)


@dataclass
class StatusChange:
    task: TaskRecord
    previous: str
    unblocked: list[str] = field(default_factory=list)
    # Every (task id, new status) the change caused, the task itself included.
    changed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Tx:
    conn: AsyncConnection
    user: str
    request_id: str | None
    changed: list[tuple[str, str]] = field(default_factory=list)

    async def record(self, task: TaskRecord, previous: str, reason: str, action: str) -> None:
        await repo.audit(
            self.conn,
            "task",
            task.id,
            task.spec_id,
            action,
            {"from": previous, "to": task.status, "reason": reason},
            self.user,
            self.request_id,
        )
        await publish(
            self.conn,
            {
                "spec_id": task.spec_id,
                "task_id": task.id,
                "task_key": task.key,
                "previous_status": previous,
                "status": task.status,
                "reason": reason,
                "actor": self.user,
                "at": datetime.now(UTC).isoformat(),
            },
        )
        self.changed.append((task.id, task.status))


async def update_status(
    db: Postgres,
    graph: GraphStore,
    task_id: str,
    target: TaskStatus,
    reason: str = "",
    user: str = "system",
    request_id: str | None = None,
    expected_version: int = 0,
    assigned_to: str | None = None,
) -> StatusChange:
    async with db.pool.connection() as conn, conn.transaction():
        task = await repo.get_task(conn, task_id, for_update=True)
        if task is None:
            raise NotFound(f"task {task_id} not found", "task", task_id)
        if request_id and await repo.audit_seen(conn, task_id, request_id):
            return StatusChange(task=task, previous=task.status)  # Idempotent replay.
        if expected_version and task.version != expected_version:
            raise Aborted(
                f"task {task.key} is at version {task.version}, not {expected_version}: re-read and retry"
            )
        if task.task_type in (TaskType.PHASE, TaskType.TASK_GROUP):
            raise FailedPrecondition(
                f"the status of {task.task_type} {task.key} is derived from its tasks and cannot be set",
                [PreconditionViolation("DERIVED_STATUS", task.key, "set the status of its tasks instead")],
            )
        previous = TaskStatus(task.status)
        if previous == target:
            return StatusChange(task=task, previous=task.status)
        if not can_transition(previous, target):
            allowed = ", ".join(allowed_targets(previous)) or "none (final state)"
            raise FailedPrecondition(
                f"task {task.key}: illegal transition {previous} -> {target}; allowed: {allowed}",
                [PreconditionViolation("STATUS_TRANSITION", task.key, f"{previous} -> {target}")],
            )
        if task.task_type == TaskType.TASK and target in NEEDS_DEPENDENCIES_DONE:
            waiting = [
                (key, status)
                for _, key, status in await repo.dependency_statuses(conn, task_id)
                if status not in DONE
            ]
            if waiting:
                names = ", ".join(f"{key} ({status})" for key, status in waiting)
                raise FailedPrecondition(
                    f"task {task.key} cannot become {target}: dependencies not done: {names}",
                    [PreconditionViolation("DEPENDENCY_NOT_DONE", key, status) for key, status in waiting],
                )
        tx = _Tx(conn, user, request_id)
        updated = await repo.set_status(conn, task_id, str(target), assigned_to)
        await tx.record(updated, str(previous), reason, "STATUS_CHANGE")
        unblocked: list[str] = []
        if task.task_type == TaskType.TASK and target in DONE:
            for dependent_id in await repo.unblockable_dependents(conn, task_id):
                before = await repo.get_task(conn, dependent_id)
                assert before is not None
                ready = await repo.set_status(conn, dependent_id, str(TaskStatus.READY))
                await tx.record(ready, before.status, f"dependencies done ({task.key})", "STATUS_CHANGE")
                unblocked.append(dependent_id)
        await _roll_up(tx, updated.parent_id)
        # Inside the transaction: a graph that cannot follow makes the whole change fail.
        for changed_id, status in tx.changed:
            await graph.set_status(changed_id, status)
        return StatusChange(task=updated, previous=str(previous), unblocked=unblocked, changed=tx.changed)


async def _roll_up(tx: _Tx, parent_id: str | None) -> None:
    while parent_id:
        parent = await repo.get_task(tx.conn, parent_id, for_update=True)
        if parent is None or parent.task_type not in (TaskType.PHASE, TaskType.TASK_GROUP):
            return
        derived = rollup(TaskStatus(s) for s in await repo.children_statuses(tx.conn, parent_id))
        if derived == parent.status:
            return
        updated = await repo.set_status(tx.conn, parent_id, str(derived))
        await tx.record(updated, parent.status, "derived from its tasks", "STATUS_ROLLUP")
        parent_id = parent.parent_id
