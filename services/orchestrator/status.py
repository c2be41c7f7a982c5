"""Status changes through the state machine: the change, its audit row, the dependents it
unblocks, the roll-up of its parents and the events all commit in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from psycopg import AsyncConnection

from devmatrix.runtime.errors import (
    Aborted,
    FailedPrecondition,
    NotFound,
    PreconditionViolation,
)
from devmatrix.stores.graph import GraphStore
from devmatrix.stores.postgres import Postgres
from services.orchestrator import status_queries as queries
from services.orchestrator.domain import TaskStatus, TaskType
from services.orchestrator.events import CHANNEL
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
class Writer:
    """Writes status changes of one transaction, each with its audit row and event."""

    conn: AsyncConnection
    user: str
    request_id: str | None
    changed: list[tuple[str, str]] = field(default_factory=list)
    # Containers of the TASKs changed, in order: what the roll-up after commit re-derives.
    parents: list[str] = field(default_factory=list)

    async def write(
        self,
        task_id: str,
        previous: str,
        status: str,
        reason: str,
        action: str,
        assigned_to: str | None = None,
    ) -> TaskRecord:
        updated = await queries.change_status(
            self.conn,
            task_id,
            previous,
            status,
            action=action,
            reason=reason,
            user=self.user,
            request_id=self.request_id,
            channel=CHANNEL,
            assigned_to=assigned_to,
        )
        self.changed.append((task_id, status))
        if updated.task_type == TaskType.TASK and updated.parent_id and updated.parent_id not in self.parents:
            self.parents.append(updated.parent_id)
        return updated


def _check(task: TaskRecord, target: TaskStatus, waiting: list[tuple[str, str]]) -> None:
    if task.task_type in (TaskType.PHASE, TaskType.TASK_GROUP):
        raise FailedPrecondition(
            f"the status of {task.task_type} {task.key} is derived from its tasks and cannot be set",
            [PreconditionViolation("DERIVED_STATUS", task.key, "set the status of its tasks instead")],
        )
    previous = TaskStatus(task.status)
    if not can_transition(previous, target):
        allowed = ", ".join(allowed_targets(previous)) or "none (final state)"
        raise FailedPrecondition(
            f"task {task.key}: illegal transition {previous} -> {target}; allowed: {allowed}",
            [PreconditionViolation("STATUS_TRANSITION", task.key, f"{previous} -> {target}")],
        )
    if task.task_type == TaskType.TASK and target in NEEDS_DEPENDENCIES_DONE and waiting:
        names = ", ".join(f"{key} ({status})" for key, status in waiting)
        raise FailedPrecondition(
            f"task {task.key} cannot become {target}: dependencies not done: {names}",
            [PreconditionViolation("DEPENDENCY_NOT_DONE", key, status) for key, status in waiting],
        )


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
    ensure_graph: Callable[[str], Awaitable[None]] | None = None,
) -> StatusChange:
    """`ensure_graph(spec_id)` loads the spec into an in-process graph that lost it (restart)."""
    async with db.pool.connection() as conn:
        async with conn.transaction():
            locked = await queries.lock_task(conn, task_id)
            if locked is None:
                raise NotFound(f"task {task_id} not found", "task", task_id)
            task, waiting = locked
            if request_id and await queries.audit_seen(conn, task_id, request_id):
                return StatusChange(task=task, previous=task.status)  # Idempotent replay.
            if expected_version and task.version != expected_version:
                raise Aborted(
                    f"task {task.key} is at version {task.version}, not {expected_version}: re-read and retry"
                )
            if task.status == target:
                return StatusChange(task=task, previous=task.status)
            _check(task, target, waiting)
            if ensure_graph is not None:
                await ensure_graph(task.spec_id)
            writer = Writer(conn, user, request_id)
            updated, unblocked = await apply(writer, graph, task, waiting, target, reason, assigned_to)
        await roll_up(conn, graph, writer)
        return StatusChange(task=updated, previous=task.status, unblocked=unblocked, changed=writer.changed)


async def apply(
    writer: Writer,
    graph: GraphStore,
    task: TaskRecord,
    waiting: list[tuple[str, str]],
    target: TaskStatus,
    reason: str,
    assigned_to: str | None = None,
    specialization: str = "",
) -> tuple[TaskRecord, list[str]]:
    """One status change inside the caller's transaction, on a task locked by
    `status_queries.lock_task`: the checked change, the dependents it unblocks (the task is
    done) or blocks (the task failed), and the graph's copy. Returns the updated task and
    the ids it unblocked; `roll_up` after the commit re-derives the containers."""
    _check(task, target, waiting)
    updated = await writer.write(task.id, task.status, str(target), reason, "STATUS_CHANGE", assigned_to)
    unblocked: list[str] = []
    if task.task_type == TaskType.TASK and target in DONE:
        for dependent_id, before in await queries.unblockable_dependents(writer.conn, task.id):
            await writer.write(
                dependent_id,
                before,
                str(TaskStatus.READY),
                f"dependencies done ({task.key})",
                "STATUS_CHANGE",
            )
            unblocked.append(dependent_id)
    elif task.task_type == TaskType.TASK and target == TaskStatus.FAILED:
        # Whatever waits on a failed task, directly or through others, cannot run: say so
        # instead of leaving it PENDING forever. Tasks that do not depend on it are untouched.
        for dependent_id, before in await queries.blockable_dependents(writer.conn, task.id):
            await writer.write(
                dependent_id,
                before,
                str(TaskStatus.BLOCKED),
                f"dependency {task.key} failed",
                "STATUS_CHANGE",
            )
    # Inside the transaction: a graph that cannot follow makes the whole change fail.
    await graph.set_statuses(writer.changed)
    if assigned_to:
        await graph.assign(task.id, assigned_to, specialization)
    return updated, unblocked


async def roll_up(conn: AsyncConnection, graph: GraphStore, writer: Writer) -> None:
    """After the commit of `writer`'s changes: re-derive the containers of every task changed."""
    for parent_id in list(writer.parents):
        await _roll_up(conn, graph, writer, parent_id)


def _stale(ancestors: list[tuple[str, str, str, dict[str, str]]]) -> bool:
    """Whether the nearest container's stored status differs from what its tasks derive."""
    return bool(ancestors) and rollup(TaskStatus(s) for s in ancestors[0][3].values()) != ancestors[0][2]


async def _roll_up(conn: AsyncConnection, graph: GraphStore, writer: Writer, parent_id: str) -> None:
    """Re-derive the group and phase above a changed task, after its change committed.

    Most changes leave the group's derived status as it was; an unlocked read finds that
    out, so concurrent changes in one group do not queue on the group's row. When it did
    change, the containers are locked and re-derived from committed state in their own
    transaction. The roll-up that follows the last of several concurrent commits reads all
    of them, so the containers end right whatever the interleaving."""
    if not _stale(await queries.ancestors(conn, parent_id, lock=False)):
        return
    rolled = Writer(conn, writer.user, writer.request_id)
    async with conn.transaction():
        for ancestor_id, _type, status, children in await queries.ancestors(conn, parent_id, lock=True):
            if rolled.changed:  # read before the level below was rewritten
                children[rolled.changed[-1][0]] = rolled.changed[-1][1]
            derived = rollup(TaskStatus(s) for s in children.values())
            if derived == status:
                break
            await rolled.write(ancestor_id, status, str(derived), "derived from its tasks", "STATUS_ROLLUP")
        await graph.set_statuses(rolled.changed)
    writer.changed.extend(rolled.changed)
