"""Executions of a spec: its waves in order, each by up to `concurrency` workers that claim
the wave's READY tasks through leases, in a background task of the orchestrator process.

Durable state is PostgreSQL only, so a run survives its process: each running execution
holds a session advisory lock on a connection of its own, which PostgreSQL releases when
that process dies; every replica's watcher adopts RUNNING executions nobody holds (and
the process that starts next does so at once), after expired leases have returned the
dead worker's tasks to READY. A task's completion and its execution's counters commit
together, and a task already COMPLETED is never claimed again, so a resumed run neither
repeats work nor loses count.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from devmatrix.runtime.logging import get_logger
from devmatrix.stores.postgres import Postgres
from services.orchestrator.execution import store
from services.orchestrator.execution.metrics import ExecutionMetrics
from services.orchestrator.execution.worker import TaskWorker
from services.orchestrator.insights.recording import record_execution_learning
from services.orchestrator.leases import LeaseManager

log = get_logger("devmatrix.execution")
# Advisory lock namespace of executions (first key of the two-key form, so pg_locks can be
# joined to find executions that no live process runs).
LOCK_NAMESPACE = 0x0DE7
# A resumed run waits this long for codegen to serve: after a whole mesh restarted, the
# orchestrator is up before the services codegen needs, and tasks would fail needlessly.
RESUME_CODEGEN_WAIT_SECONDS = 60.0
ORPHANS = """SELECT e.id::text FROM orchestrator.executions e WHERE e.status = 'RUNNING'
    AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = %(ns)s AND l.objid = hashtext(e.id::text)::oid AND l.objsubid = 2)
    ORDER BY e.started_at"""


@dataclass
class Run:
    """An execution running in this process."""

    execution: store.ExecutionRecord
    lock: psycopg.AsyncConnection
    task: asyncio.Task[None] | None = None
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    # Lease ids this run's workers hold: a RUNNING task of the wave with another lease is
    # someone else's (an external agent, or a dead process until its lease expires).
    held: set[str] = field(default_factory=set)
    # Simulated crash: stop where it stands, release nothing, finish nothing.
    abandoned: bool = False
    # Taken over from a process that died (not started by ExecuteSpec here).
    resumed: bool = False
    # Set (and replaced) whenever one of the run's workers finishes a task: what a worker
    # waiting for the rest of its wave wakes on, the poll being its fallback.
    task_done: asyncio.Event = field(default_factory=asyncio.Event)

    def signal_task_done(self) -> None:
        self.task_done.set()
        self.task_done = asyncio.Event()

    @property
    def id(self) -> str:
        return self.execution.id

    @property
    def user(self) -> str:
        """Who the audit log names for the run's task changes."""
        return f"execution:{self.execution.id}"


class ExecutionRunner:
    def __init__(
        self,
        db: Postgres,
        leases: LeaseManager,
        worker: TaskWorker,
        metrics: ExecutionMetrics,
        poll_seconds: float,
        ensure_graph: Callable[[str], Awaitable[None]],
    ) -> None:
        self.db = db
        self.leases, self.worker, self.metrics = leases, worker, metrics
        self.poll_seconds = poll_seconds
        self.ensure_graph = ensure_graph
        self.owner = f"{socket.gethostname()}:{os.getpid()}"[:80]
        self.runs: dict[str, Run] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False

    # --- lifecycle ---------------------------------------------------------------------------

    async def resume(self) -> None:
        """At start: expired leases back to READY, then every orphaned execution resumed."""
        await self.leases.release_expired()
        await self.leases.refresh_review_queue()
        await self.adopt_orphans()
        self._watcher = asyncio.create_task(self._watch())

    async def adopt_orphans(self) -> list[str]:
        async with self.db.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(ORPHANS, {"ns": LOCK_NAMESPACE})
            orphans = [row[0] for row in await cur.fetchall()]
        adopted = []
        for execution_id in orphans:
            if execution_id in self.runs or self._closing:
                continue
            async with self.db.pool.connection() as conn:
                execution = await store.get_execution(conn, execution_id)
            if execution and execution.status == store.RUNNING and await self.launch(execution, resumed=True):
                log.info("execution_resumed", execution=execution_id, spec=execution.spec_id)
                adopted.append(execution_id)
        return adopted

    async def launch(self, execution: store.ExecutionRecord, resumed: bool = False) -> bool:
        """Run `execution` here if no other process does (its advisory lock is free)."""
        lock = await psycopg.AsyncConnection.connect(self.db.url, autocommit=True)
        try:
            cur = await lock.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, execution.id)
            )
            locked = await cur.fetchone()
            # Read once the lock is held (a statement of its own, so a snapshot taken after
            # it): a process that finished the execution committed that before letting go.
            cur = await lock.execute(
                "SELECT status FROM orchestrator.executions WHERE id = %s", (execution.id,)
            )
            status = await cur.fetchone()
        except BaseException:
            await lock.close()
            raise
        running = bool(locked and locked[0]) and bool(status and status[0] == store.RUNNING)
        if not running or execution.id in self.runs:
            await lock.close()
            return False
        run = Run(execution, lock, resumed=resumed)
        self.runs[execution.id] = run
        run.task = asyncio.create_task(self._run(run), name=f"execution-{execution.id}")
        return True

    async def close(self) -> None:
        """Graceful stop: workers give their tasks back (READY) and the executions stay
        RUNNING, for the next process (or another replica) to resume."""
        await self._stop(abandon=False)

    async def abandon(self) -> None:
        """Stop as a killed process would: leases stay held until they expire, executions
        stay RUNNING, the advisory locks go with their connections. For crash tests."""
        await self._stop(abandon=True)

    async def _stop(self, abandon: bool) -> None:
        self._closing = True
        if self._watcher:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        runs = list(self.runs.values())
        for run in runs:
            run.abandoned = abandon
            if run.task:
                run.task.cancel()
        await asyncio.gather(*(r.task for r in runs if r.task), return_exceptions=True)

    async def _watch(self) -> None:
        """Take over what dead processes left: expired leases, orphaned executions; and
        pass a cancellation requested through another replica to this one's runs."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.leases.release_expired()
                await self.adopt_orphans()
                for run in list(self.runs.values()):
                    async with self.db.pool.connection() as conn:
                        if await store.cancel_requested(conn, run.id):
                            run.cancel.set()
            except Exception as error:  # the database is down: try again next round
                log.warning("execution_watch_failed", error=str(error))

    # --- one execution -------------------------------------------------------------------------

    async def _run(self, run: Run) -> None:
        try:
            status, error = store.FAILED, None
            try:
                await self.ensure_graph(run.execution.spec_id)
                async with self.db.pool.connection() as conn:
                    if await store.cancel_requested(conn, run.id):
                        run.cancel.set()
                if (
                    run.resumed
                    and not run.cancel.is_set()
                    and not await self.worker.codegen.wait_ready(RESUME_CODEGEN_WAIT_SECONDS)
                ):
                    log.warning("codegen_not_ready", execution=run.id)
                status = await self._waves(run)
            except asyncio.CancelledError:
                raise
            except Exception as failure:
                log.exception("execution_failed", execution=run.id)
                status, error = store.FAILED, f"{type(failure).__name__}: {failure}"
            await self._finish(run, status, error)
        finally:
            self.runs.pop(run.id, None)
            with contextlib.suppress(Exception):
                await run.lock.close()

    async def _waves(self, run: Run) -> str:
        spec_id, scope = run.execution.spec_id, run.execution.wave
        async with self.db.pool.connection() as conn:
            waves = await store.wave_numbers(conn, spec_id)
        if scope is not None:
            waves = [w for w in waves if w == scope]
        start = 0
        while True:
            for wave in waves[start:]:
                if run.cancel.is_set():
                    return store.CANCELLED
                await self._wave(run, wave)
            if run.cancel.is_set():
                return store.CANCELLED
            # A review approved meanwhile may have readied tasks of a wave already passed.
            async with self.db.pool.connection() as conn:
                again = await store.first_ready_wave(conn, spec_id, scope)
                failed = await store.failed_in_scope(conn, spec_id, scope)
            if again is None or again not in waves:
                return store.FAILED if failed else store.COMPLETED
            start = waves.index(again)

    async def _wave(self, run: Run, wave: int) -> None:
        started, ran = time.monotonic(), [0]
        workers = [
            asyncio.create_task(self._worker(run, wave, n, ran)) for n in range(run.execution.concurrency)
        ]
        cancelled = asyncio.create_task(run.cancel.wait())
        try:
            pending: set[asyncio.Task[Any]] = {*workers, cancelled}
            while not cancelled.done() and any(not w.done() for w in workers):
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    error = None if finished.cancelled() else finished.exception()
                    if error is not None:  # a worker's bug or a database outage ends the run
                        raise error
        finally:
            # Cancellation: workers give their tasks back as they stop (see _worker).
            for task in (*workers, cancelled):
                task.cancel()
            await asyncio.gather(*workers, cancelled, return_exceptions=True)
        if ran[0]:
            self.metrics.waves_executed.inc()
            self.metrics.wave_seconds.observe(time.monotonic() - started)

    async def _worker(self, run: Run, wave: int, n: int, ran: list[int]) -> None:
        spec_id = run.execution.spec_id
        while not run.cancel.is_set():
            async with self.db.pool.connection() as conn:
                if await store.cancel_requested(conn, run.id):
                    run.cancel.set()
                    return
            # Held before the claim commits: a sibling that finds the task RUNNING a moment
            # later must see it as this run's, or it waits a whole poll for it.
            lease_id = str(uuid.uuid4())
            run.held.add(lease_id)
            try:
                lease = await self.leases.claim(
                    spec_id, owner=f"{self.owner}/w{n}", wave=wave, user=run.user, lease_id=lease_id
                )
            except BaseException:
                run.held.discard(lease_id)
                raise
            if lease is None:
                run.held.discard(lease_id)
                if not await self._others_running(run, wave):
                    return
                # A task of the wave is someone else's: wait for it, taking it over if its
                # holder died (lease expired).
                await self.leases.release_expired(spec_id)
                # asyncio.timeout: wait_for (3.11) can swallow a cancellation that arrives as
                # the event fires, and the wave would wait for this worker forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await run.task_done.wait()
                continue
            self.metrics.parallelism.inc()
            ran[0] += 1
            try:
                await self.worker.run(lease, run.id, run.user)
            except asyncio.CancelledError:
                if not run.abandoned:
                    why = "execution cancelled" if run.cancel.is_set() else "orchestrator shutting down"
                    with contextlib.suppress(Exception):
                        await asyncio.shield(
                            self.leases.release(lease.task.id, lease.lease_id, why, run.user)
                        )
                raise
            finally:
                self.metrics.parallelism.dec()
                run.held.discard(lease.lease_id)
                run.signal_task_done()

    async def _others_running(self, run: Run, wave: int) -> bool:
        """RUNNING tasks of the wave under a lease this run does not hold. Tasks set RUNNING
        by hand (no lease) are not waited for: nothing would ever end their wait."""
        async with self.db.pool.connection() as conn:
            leases = await store.running_in_wave(conn, run.execution.spec_id, wave)
        return any(lease and lease not in run.held for lease in leases)

    async def _finish(self, run: Run, status: str, error: str | None) -> None:
        execution = run.execution
        async with self.db.pool.connection() as conn, conn.transaction():
            current = await store.get_execution(conn, execution.id, lock=True)
            if current is None or current.status != store.RUNNING:
                return
            await store.finish_execution(conn, execution.id, status, error)
            done = await store.get_execution(conn, execution.id)
            assert done is not None
            await store.set_spec_status(conn, execution.spec_id, await _spec_status(conn, done))
            await store.audit_execution(
                conn,
                done,
                "EXECUTION_FINISH",
                {
                    "from": store.RUNNING,
                    "to": status,
                    "error": error,
                    "tasks_completed": done.tasks_completed,
                    "tasks_failed": done.tasks_failed,
                    "tasks_in_review": done.tasks_in_review,
                },
                run.user,
            )
            # Visible with the finish; a savepoint, as learning is not worth failing a run for.
            try:
                async with conn.transaction():
                    await record_execution_learning(conn, execution.spec_id, execution.id)
            except Exception:
                log.exception("execution_learning_failed", execution=execution.id)
        log.info(
            "execution_finished",
            execution=execution.id,
            status=status,
            completed=done.tasks_completed,
            failed=done.tasks_failed,
            in_review=done.tasks_in_review,
            wall_seconds=round(done.wall_seconds, 3),
            sequential_seconds=round(done.sequential_seconds, 3),
        )


async def _spec_status(conn: psycopg.AsyncConnection, done: store.ExecutionRecord) -> str:
    """The spec's status after an execution: the execution's own for a whole-spec run; after
    one wave, COMPLETED only when nothing of the spec is left, else back to ANALYZED."""
    if done.wave is None or done.status in (store.FAILED, store.CANCELLED):
        return done.status
    counts = await store.scope_counts(conn, done.spec_id, None)
    unfinished = sum(n for status, n in counts.items() if status not in ("COMPLETED", "SKIPPED"))
    return store.COMPLETED if not unfinished else "ANALYZED"


def new_execution_id() -> str:
    return str(uuid.uuid4())
