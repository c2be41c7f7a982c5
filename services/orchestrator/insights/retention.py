"""Retention (seed 002): agent logs are deleted after AGENT_LOG_RETENTION_DAYS (90 by
default); failures (the pattern store), estimates and retrospectives are kept forever.

Deletes go in batches, each its own short transaction, so a large backlog never holds
locks for long. One replica at a time: a session advisory lock, and a replica that finds
it taken skips the run (another one is doing the same work)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter
from psycopg import AsyncConnection

from devmatrix.runtime.logging import get_logger
from devmatrix.stores.postgres import Postgres
from services.orchestrator.insights.records import RetentionResult

log = get_logger("devmatrix.insights.retention")

BATCH = 5000
# pg_advisory_lock key of the retention job ("dmretain" as an int64).
LOCK_KEY = 0x646D72657461696E
# The first run waits this long after start (or the interval, if shorter).
FIRST_RUN_DELAY_S = 60.0


class RetentionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "devmatrix_retention_runs", "Retention runs by outcome.", ("outcome",), registry=registry
        )
        self.deleted = Counter(
            "devmatrix_agent_logs_deleted", "Agent log rows deleted by retention.", registry=registry
        )


async def run_retention(
    db: Postgres,
    retention_days: int,
    *,
    dry_run: bool = False,
    metrics: RetentionMetrics | None = None,
) -> RetentionResult:
    """Delete (or with dry_run count) the agent logs older than `retention_days`."""
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    result = RetentionResult(0, cutoff, retention_days, dry_run)
    async with db.pool.connection() as conn:
        # A session lock, and each batch committed on its own: autocommit for this run.
        await conn.set_autocommit(True)
        try:
            locked = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))).fetchone()
            if not (locked and locked[0]):
                result.skipped = True
                if metrics:
                    metrics.runs.labels("skipped").inc()
                return result
            try:
                if dry_run:
                    row = await (
                        await conn.execute(
                            "SELECT count(*) FROM orchestrator.agent_logs WHERE created_at < %s", (cutoff,)
                        )
                    ).fetchone()
                    result.deleted = int(row[0]) if row else 0
                else:
                    result.deleted = await _delete_batches(conn, cutoff)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        finally:
            await conn.set_autocommit(False)
    if metrics:
        metrics.runs.labels("dry_run" if dry_run else "success").inc()
        if not dry_run:
            metrics.deleted.inc(result.deleted)
    if result.deleted and not dry_run:
        log.info("agent_logs_deleted", rows=result.deleted, cutoff=cutoff.isoformat())
    return result


async def _delete_batches(conn: AsyncConnection, cutoff: datetime) -> int:
    deleted = 0
    while True:
        cur = await conn.execute(
            """DELETE FROM orchestrator.agent_logs WHERE id IN (
                   SELECT id FROM orchestrator.agent_logs WHERE created_at < %s ORDER BY id LIMIT %s)""",
            (cutoff, BATCH),
        )
        deleted += cur.rowcount
        if cur.rowcount < BATCH:
            return deleted


class RetentionJob:
    """The periodic run, an asyncio task of the orchestrator process."""

    def __init__(
        self, db: Postgres, interval_seconds: float, retention_days: int, metrics: RetentionMetrics
    ) -> None:
        self._db, self._interval, self._days, self._metrics = db, interval_seconds, retention_days, metrics
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run_forever(), name="agent-log-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run_forever(self) -> None:
        await asyncio.sleep(min(FIRST_RUN_DELAY_S, self._interval))
        while True:
            try:
                await run_retention(self._db, self._days, metrics=self._metrics)
            except Exception as error:  # a database outage must not end the job
                self._metrics.runs.labels("error").inc()
                log.warning(
                    "retention_failed", error=str(error).splitlines()[0] if str(error) else repr(error)
                )
            await asyncio.sleep(self._interval)
