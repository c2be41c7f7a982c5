"""Row leases on executable tasks: how workers (the orchestrator's own runner, external
agents, other replicas) share a spec's work through PostgreSQL only.

A claim takes the first READY task with FOR UPDATE SKIP LOCKED, so concurrent claimers
never wait on each other nor get the same task, and moves it to RUNNING through the
state machine (audit row and event in the same transaction). The holder keeps the lease
alive with heartbeats; a lease that expires (its holder died) returns the task to READY
for someone else. Completing stores the files and a report and ends in COMPLETED,
NEEDS_REVIEW or FAILED, again through the state machine.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from devmatrix.runtime.errors import FailedPrecondition, NotFound, PreconditionViolation
from devmatrix.stores.graph import GraphStore
from devmatrix.stores.postgres import Postgres
from services.orchestrator import repository as repo
from services.orchestrator import status_queries as queries
from services.orchestrator.domain import TaskStatus
from services.orchestrator.execution import store
from services.orchestrator.execution.agents import SPECIALIZATION, agent_for
from services.orchestrator.execution.files import TaskFile, replace_files
from services.orchestrator.execution.metrics import ExecutionMetrics
from services.orchestrator.records import TaskRecord
from services.orchestrator.status import Writer, apply, roll_up


@dataclass(frozen=True)
class LeaseState:
    lease_id: str | None
    owner: str | None
    expires_at: datetime | None
    attempts: int
    live: bool


@dataclass
class Locked:
    """A task locked for update in an open transaction, with what changing it needs."""

    conn: AsyncConnection
    writer: Writer
    task: TaskRecord
    waiting: list[tuple[str, str]]
    lease: LeaseState


@dataclass
class Lease:
    task: TaskRecord
    lease_id: str
    owner: str
    expires_at: datetime


@dataclass
class Outcome:
    """What a worker reports for its task."""

    success: bool
    files: list[TaskFile] = field(default_factory=list)
    error: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    # None: not reported, no confidence check.
    confidence: float | None = None
    # Set when the work needs a human whatever its confidence (validation did not pass).
    review_reason: str = ""


def decide(outcome: Outcome, threshold: float) -> tuple[TaskStatus, str]:
    """The status a finished task ends in, and why."""
    if not outcome.success:
        return TaskStatus.FAILED, outcome.error or "the agent reported a failure"
    reasons = [outcome.review_reason] if outcome.review_reason else []
    if outcome.confidence is not None and outcome.confidence < threshold:
        reasons.append(f"confidence {outcome.confidence:.2f} is under the review threshold {threshold:.2f}")
    if reasons:
        return TaskStatus.NEEDS_REVIEW, "; ".join(reasons)
    return TaskStatus.COMPLETED, "completed"


async def lease_state(conn: AsyncConnection, task_id: str) -> LeaseState:
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT lease_id::text, lease_owner, lease_expires_at, attempts,
                      status = 'RUNNING' AND lease_expires_at > clock_timestamp()
               FROM orchestrator.tasks WHERE id = %s""",
            (task_id,),
        )
        row = await cur.fetchone()
    assert row is not None
    return LeaseState(row[0], row[1], row[2], row[3], bool(row[4]))


@dataclass
class TaskChanges:
    """The one transactional path of task changes outside UpdateTaskStatus: lock the task,
    change it through the state machine, commit, then roll the containers up."""

    db: Postgres
    graph: GraphStore
    ensure_graph: Callable[[str], Awaitable[None]]
    # Told every (task id, status) a committed change caused (metrics).
    on_changed: Callable[[list[tuple[str, str]]], None] = lambda changed: None

    async def spec_of(self, task_id: str) -> str:
        async with self.db.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute("SELECT spec_id::text FROM orchestrator.tasks WHERE id = %s", (task_id,))
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"task {task_id} not found", "task", task_id)
        return str(row[0])

    @contextlib.asynccontextmanager
    async def locked(self, task_id: str, user: str, request_id: str | None = None) -> AsyncIterator[Locked]:
        # The in-process graph is loaded before the row lock is taken: loading needs a
        # connection of its own, and waiting for one while holding a lock could deadlock.
        if not self.graph.persistent:
            await self.ensure_graph(await self.spec_of(task_id))
        async with self.db.pool.connection() as conn:
            async with conn.transaction():
                found = await queries.lock_task(conn, task_id)
                if found is None:
                    raise NotFound(f"task {task_id} not found", "task", task_id)
                task, waiting = found
                writer = Writer(conn, user[:100], request_id)
                yield Locked(conn, writer, task, waiting, await lease_state(conn, task_id))
            await roll_up(conn, self.graph, writer)
        self.on_changed(writer.changed)


def _not_held(task: TaskRecord, lease_id: str, state: LeaseState) -> FailedPrecondition:
    if task.status != TaskStatus.RUNNING or state.lease_id is None:
        why = f"it is {task.status}, not leased"
    elif state.lease_id != lease_id:
        why = f"its lease is held by {state.owner}"
    else:
        why = f"the lease expired at {state.expires_at.isoformat() if state.expires_at else '?'}"
    return FailedPrecondition(
        f"task {task.key}: lease {lease_id} is not held: {why}",
        [PreconditionViolation("LEASE_NOT_HELD", task.key, why)],
    )


class LeaseManager:
    def __init__(
        self,
        changes: TaskChanges,
        lease_seconds: float,
        review_threshold: float,
        metrics: ExecutionMetrics,
    ) -> None:
        self.changes = changes
        self.lease_seconds = lease_seconds
        self.review_threshold = review_threshold
        self.metrics = metrics

    async def claim(
        self,
        spec_id: str,
        owner: str,
        agent: str | None = None,
        skills: Sequence[str] = (),
        wave: int | None = None,
        lease_seconds: float | None = None,
        user: str | None = None,
        lease_id: str | None = None,
    ) -> Lease | None:
        """The first READY task of the spec (by wave, priority, position), RUNNING and leased
        to `owner`, assigned to `agent` (default: by its kind and skills); None if none.
        `user` is who the audit log names (default: the owner). A caller that passes the
        `lease_id` knows the lease is its own from the moment the claim commits."""
        c = self.changes
        await c.ensure_graph(spec_id)
        seconds = lease_seconds or self.lease_seconds
        async with c.db.pool.connection() as conn:
            async with conn.transaction():
                candidate = await _first_ready(conn, spec_id, list(skills), wave)
                if candidate is None:
                    if await repo.get_spec(conn, spec_id) is None:
                        raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
                    return None
                found = await queries.lock_task(conn, candidate)  # ours already: no wait
                assert found is not None
                task, waiting = found
                assignee = agent or agent_for(task.kind, task.required_skills)
                writer = Writer(conn, (user or owner)[:100], None)
                await apply(
                    writer,
                    c.graph,
                    task,
                    waiting,
                    TaskStatus.RUNNING,
                    f"claimed by {owner}",
                    assignee[:100],
                    SPECIALIZATION.get(assignee, ""),
                )
                lease_id = lease_id or str(uuid.uuid4())
                async with conn.cursor() as cur:
                    await cur.execute(
                        """UPDATE orchestrator.tasks SET lease_id = %s, lease_owner = %s, lease_seconds = %s,
                               lease_expires_at = clock_timestamp() + make_interval(secs => %s)
                           WHERE id = %s RETURNING lease_expires_at""",
                        (lease_id, owner[:100], seconds, seconds, task.id),
                    )
                    row = await cur.fetchone()
                assert row is not None
                updated = await repo.get_task(conn, task.id)
                assert updated is not None
            await roll_up(conn, c.graph, writer)
        c.on_changed(writer.changed)
        return Lease(updated, lease_id, owner, row[0])

    async def heartbeat(self, task_id: str, lease_id: str) -> datetime:
        """Extend a live lease by the length it was claimed for; a wrong or expired one is
        FAILED_PRECONDITION (its task may already be someone else's: the holder must stop)."""
        async with self.changes.db.pool.connection() as conn:
            async with conn.cursor() as cur:
                await cur.execute(
                    """UPDATE orchestrator.tasks
                       SET lease_expires_at = clock_timestamp()
                           + make_interval(secs => COALESCE(lease_seconds, %s))
                       WHERE id = %s AND status = 'RUNNING' AND lease_id = %s
                         AND lease_expires_at > clock_timestamp()
                       RETURNING lease_expires_at""",
                    (self.lease_seconds, task_id, lease_id),
                )
                row = await cur.fetchone()
            if row is not None:
                return row[0]
            task = await repo.get_task(conn, task_id)
            if task is None:
                raise NotFound(f"task {task_id} not found", "task", task_id)
            raise _not_held(task, lease_id, await lease_state(conn, task_id))

    async def complete(
        self,
        task_id: str,
        lease_id: str,
        outcome: Outcome,
        request_id: str | None = None,
        user: str | None = None,
        execution_id: str | None = None,
        seconds: float = 0.0,
        record_attempt: bool = False,
    ) -> tuple[TaskRecord, TaskStatus]:
        """Store the outcome and end the lease. A lease that expired but was not taken over
        still completes: the work is done and nobody else started it. `record_attempt`
        writes the retry-history row and agent log for work done outside the runner."""
        async with self.changes.locked(task_id, user or "agent", request_id) as t:
            if request_id and await queries.audit_seen(t.conn, task_id, request_id):
                return t.task, TaskStatus(t.task.status)  # Idempotent replay.
            if t.task.status != TaskStatus.RUNNING or t.lease.lease_id != lease_id:
                raise _not_held(t.task, lease_id, t.lease)
            if user is None:
                t.writer.user = (t.lease.owner or "agent")[:100]
            target, reason = decide(outcome, self.review_threshold)
            if outcome.files and target != TaskStatus.FAILED:
                await replace_files(t.conn, task_id, outcome.files)
            content = {**outcome.report, "status": str(target), "reason": reason, "lease_id": lease_id}
            await repo.insert_report(t.conn, task_id, "IMPLEMENTATION", content, request_id)
            await t.conn.execute(
                """UPDATE orchestrator.tasks SET confidence = COALESCE(%s, confidence), review_reason = %s
                   WHERE id = %s""",
                (outcome.confidence, reason if target == TaskStatus.NEEDS_REVIEW else None, task_id),
            )
            if record_attempt:
                await _record_external(t, outcome, execution_id)
            if execution_id:
                await store.tally(t.conn, execution_id, str(target), seconds)
            updated, _ = await apply(t.writer, self.changes.graph, t.task, t.waiting, target, reason[:2000])
        self.metrics.finished(str(target))
        if target == TaskStatus.NEEDS_REVIEW:  # a RUNNING task only ever enters the queue
            await self.refresh_review_queue()
        return updated, target

    async def release(self, task_id: str, lease_id: str, reason: str, user: str) -> bool:
        """Give a held task back (READY) without an outcome: cancellation, shutdown."""
        async with self.changes.locked(task_id, user) as t:
            if t.task.status != TaskStatus.RUNNING or t.lease.lease_id != lease_id:
                return False
            await apply(t.writer, self.changes.graph, t.task, t.waiting, TaskStatus.READY, reason)
        return True

    async def release_expired(self, spec_id: str | None = None) -> list[str]:
        """RUNNING tasks whose lease expired (their holder died or hung) back to READY, so
        another worker takes them over. Rows another transaction holds are left for later."""
        c = self.changes
        async with c.db.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                """SELECT id::text FROM orchestrator.tasks WHERE status = 'RUNNING'
                   AND lease_expires_at < clock_timestamp() AND (%s::uuid IS NULL OR spec_id = %s::uuid)
                   ORDER BY id""",
                (spec_id, spec_id),
            )
            expired = [row[0] for row in await cur.fetchall()]
        released: list[str] = []
        for task_id in expired:
            with contextlib.suppress(NotFound):  # deleted with its spec meanwhile
                async with c.locked(task_id, "lease-reaper") as t:
                    if t.task.status != TaskStatus.RUNNING or t.lease.live or t.lease.lease_id is None:
                        continue  # heartbeat or completion won the race
                    reason = f"lease expired, held by {t.lease.owner}"
                    await apply(t.writer, c.graph, t.task, t.waiting, TaskStatus.READY, reason)
                    released.append(task_id)
        return released

    async def refresh_review_queue(self) -> None:
        async with self.changes.db.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                "SELECT count(*) FROM orchestrator.tasks WHERE status = 'NEEDS_REVIEW' AND task_type = 'TASK'"
            )
            row = await cur.fetchone()
        self.metrics.review_queue.set(row[0] if row else 0)


async def _first_ready(
    conn: AsyncConnection, spec_id: str, skills: list[str], wave: int | None
) -> str | None:
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT t.id::text FROM orchestrator.tasks t
               WHERE t.spec_id = %(spec)s AND t.status = 'READY' AND t.task_type = 'TASK'
                 AND (%(wave)s::int IS NULL OR t.wave = %(wave)s::int)
                 AND (cardinality(%(skills)s::text[]) = 0 OR t.required_skills && %(skills)s::text[])
               ORDER BY t.wave NULLS LAST, t.priority, t.position
               LIMIT 1 FOR UPDATE OF t SKIP LOCKED""",
            {"spec": spec_id, "wave": wave, "skills": skills},
        )
        row = await cur.fetchone()
    return row[0] if row else None


async def _record_external(t: Locked, outcome: Outcome, execution_id: str | None) -> None:
    """An external agent's completion in the retry history and the agent logs, timed from
    its claim (the task's last status change)."""
    async with t.conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT updated_at, extract(epoch FROM clock_timestamp() - updated_at) AS s "
            "FROM orchestrator.tasks WHERE id = %s",
            (t.task.id,),
        )
        row = await cur.fetchone()
    assert row is not None
    agent = t.task.assigned_to or t.lease.owner or "agent"
    await store.insert_attempt(
        t.conn,
        store.AttemptRow(
            task_id=t.task.id,
            execution_id=execution_id,
            attempt=t.lease.attempts + 1,
            agent=agent,
            started_at=row["updated_at"],
            success=outcome.success,
            generator="external",
            error=outcome.error or None,
            confidence=outcome.confidence,
        ),
    )
    await store.insert_agent_log(
        t.conn,
        store.AgentLog(
            spec_id=t.task.spec_id,
            task_id=t.task.id,
            execution_id=execution_id,
            agent=agent,
            phase="execution",
            action="complete",
            duration_ms=int(float(row["s"]) * 1000),
            success=outcome.success,
            input_summary=f"task {t.task.key} ({t.task.kind})",
            output_summary=f"{len(outcome.files)} files",
            error=outcome.error or None,
        ),
    )
