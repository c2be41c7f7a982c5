"""ExecuteSpec, ExecuteWave, CancelExecution and GetExecution as domain operations.

Idempotency: an execution is found again by its request_id (same spec and scope, else
ALREADY_EXISTS), whatever its status. One execution per spec runs at a time, enforced
by a partial unique index so it holds across replicas: starting another one while it runs
is ALREADY_EXISTS naming the running execution (cancel it or wait), not a silent replay,
because the caller asked for a new run and should know it did not get one.

A new execution gives the FAILED tasks of its scope another chance (READY again, their
attempt history kept); tasks waiting for a review are left to the reviewer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psycopg

from devmatrix.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PreconditionViolation,
)
from services.orchestrator import repository as repo
from services.orchestrator import status_queries as queries
from services.orchestrator.domain import TaskStatus
from services.orchestrator.execution import store
from services.orchestrator.execution.runner import ExecutionRunner, new_execution_id
from services.orchestrator.leases import TaskChanges
from services.orchestrator.status import Writer, apply, roll_up

MAX_CONCURRENCY = 64
# How long CancelExecution waits for the run to wind down before answering.
CANCEL_WAIT_SECONDS = 10.0


@dataclass
class WaveResult:
    wave: int
    succeeded: int
    failed: int
    in_review: int


class Executions:
    def __init__(
        self,
        changes: TaskChanges,
        runner: ExecutionRunner,
        analyze: Callable[[str], Awaitable[object]],
        default_concurrency: int,
    ) -> None:
        self.changes, self.runner, self.analyze = changes, runner, analyze
        self.default_concurrency = default_concurrency

    async def start(
        self, spec_id: str, concurrency: int, request_id: str | None, user: str, wave: int | None = None
    ) -> store.ExecutionRecord:
        """A RUNNING execution, returned at once; its waves run in the background."""
        if not 0 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidArgument(
                f"concurrency must be from 1 to {MAX_CONCURRENCY} (0: the default), not {concurrency}",
                [FieldViolation("concurrency", f"1 to {MAX_CONCURRENCY}, or 0 for the default")],
            )
        if request_id and (replay := await self._replay(request_id, spec_id, wave)):
            return replay
        await self._prepare(spec_id, wave)
        execution_id = new_execution_id()
        db, graph = self.changes.db, self.changes.graph
        try:
            async with db.pool.connection() as conn:
                async with conn.transaction():
                    execution = await store.insert_execution(
                        conn, execution_id, spec_id, concurrency or self.default_concurrency, wave, request_id
                    )
                    await store.audit_execution(
                        conn,
                        execution,
                        "EXECUTION_START",
                        {"to": store.RUNNING, "concurrency": execution.concurrency, "wave": wave},
                        user,
                        request_id,
                    )
                    await store.set_spec_status(conn, spec_id, store.RUNNING)
                    writer = Writer(conn, f"execution:{execution_id}", None)
                    for task_id in await store.failed_in_scope(conn, spec_id, wave):
                        found = await queries.lock_task(conn, task_id)
                        assert found is not None
                        task, waiting = found
                        target = TaskStatus.PENDING if waiting else TaskStatus.READY
                        await apply(
                            writer, graph, task, waiting, target, f"retried by execution {execution_id}"
                        )
                await roll_up(conn, graph, writer)
        except psycopg.errors.UniqueViolation:
            if request_id and (replay := await self._replay(request_id, spec_id, wave)):
                return replay  # a concurrent request with the same key won
            async with db.pool.connection() as conn:
                running = await store.running_execution(conn, spec_id)
            raise AlreadyExists(
                f"execution {running.id if running else '?'} is already running for spec {spec_id}: "
                "wait for it or cancel it"
            ) from None
        self.changes.on_changed(writer.changed)
        await self.runner.launch(execution)
        return execution

    async def execute_wave(
        self, spec_id: str, wave: int, concurrency: int, request_id: str | None, user: str
    ) -> WaveResult:
        """Run one wave and wait for it (an execution scoped to that wave)."""
        if wave < 0:
            raise InvalidArgument(f"wave must not be negative, not {wave}", [FieldViolation("wave", ">= 0")])
        execution = await self.start(spec_id, concurrency, request_id, user, wave)
        done = await self._wait(execution.id)
        return WaveResult(wave, done.tasks_completed, done.tasks_failed, done.tasks_in_review)

    async def cancel(self, execution_id: str, user: str) -> store.ExecutionRecord:
        async with self.changes.db.pool.connection() as conn, conn.transaction():
            execution = await store.get_execution(conn, execution_id, lock=True)
            if execution is None:
                raise NotFound(f"execution {execution_id} not found", "execution", execution_id)
            if execution.status == store.CANCELLED:
                return execution
            if execution.status != store.RUNNING:
                raise FailedPrecondition(
                    f"execution {execution_id} is {execution.status}: only a RUNNING execution can be cancelled",
                    [PreconditionViolation("EXECUTION_NOT_RUNNING", execution_id, execution.status)],
                )
            if not execution.cancel_requested:
                await store.request_cancel(conn, execution_id)
                await store.audit_execution(
                    conn, execution, "EXECUTION_CANCEL_REQUESTED", {"from": store.RUNNING}, user
                )
        run = self.runner.runs.get(execution_id)
        if run is not None:
            run.cancel.set()
        else:
            # Run by another replica (its watcher sees the flag), or by nobody since a crash:
            # then adopting it here lets it wind down at once.
            await self.runner.adopt_orphans()
        try:
            return await asyncio.wait_for(self._wait(execution_id), CANCEL_WAIT_SECONDS)
        except TimeoutError:
            return await self.get(execution_id)

    async def get(self, execution_id: str) -> store.ExecutionRecord:
        async with self.changes.db.pool.connection() as conn:
            execution = await store.get_execution(conn, execution_id)
        if execution is None:
            raise NotFound(f"execution {execution_id} not found", "execution", execution_id)
        return execution

    async def _wait(self, execution_id: str) -> store.ExecutionRecord:
        """The execution once it is no longer RUNNING, wherever it runs."""
        while True:
            run = self.runner.runs.get(execution_id)
            if run is not None and run.task is not None:
                # wait(), not await: a cancelled caller must not cancel the run itself.
                await asyncio.wait({run.task})
            execution = await self.get(execution_id)
            if execution.status != store.RUNNING:
                return execution
            await asyncio.sleep(self.runner.poll_seconds)

    async def _replay(self, request_id: str, spec_id: str, wave: int | None) -> store.ExecutionRecord | None:
        async with self.changes.db.pool.connection() as conn:
            execution = await store.execution_by_request_id(conn, request_id)
        if execution is None:
            return None
        if execution.spec_id != spec_id or execution.wave != wave:
            raise AlreadyExists(
                f"request_id {request_id!r} was already used for execution {execution.id} "
                f"(spec {execution.spec_id}, wave {'all' if execution.wave is None else execution.wave})"
            )
        return execution

    async def _prepare(self, spec_id: str, wave: int | None) -> None:
        """The spec exists and has its waves (analysed now if it never was)."""
        async with self.changes.db.pool.connection() as conn:
            if await repo.get_spec(conn, spec_id) is None:
                raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
            unscheduled = await store.unscheduled_tasks(conn, spec_id)
        if unscheduled:
            await self.changes.ensure_graph(spec_id)
            await self.analyze(spec_id)  # a dependency cycle fails here, naming the cycle
        await self.changes.ensure_graph(spec_id)
        if wave is not None:
            async with self.changes.db.pool.connection() as conn:
                waves = await store.wave_numbers(conn, spec_id)
            if wave not in waves:
                have = f"0..{waves[-1]}" if waves else "none"
                raise InvalidArgument(
                    f"wave {wave} does not exist: the spec's waves are {have}",
                    [FieldViolation("wave", f"one of the spec's waves ({have})")],
                )
