"""One leased task, run to its end: GenerateCode with retries and feedback, every attempt
in the retry history and the agent logs, heartbeats while it works, then completion."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential

from devmatrix.runtime.errors import DomainError
from devmatrix.runtime.logging import get_logger
from services.orchestrator.execution import store
from services.orchestrator.execution.codegen import CodegenClient, CodegenFailure, Generated
from services.orchestrator.execution.metrics import ExecutionMetrics
from services.orchestrator.leases import Lease, LeaseManager, Outcome
from services.orchestrator.records import TaskRecord

log = get_logger("devmatrix.execution")
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class WorkerConfig:
    lease_seconds: float
    max_attempts: int
    backoff_seconds: float

    @property
    def heartbeat_seconds(self) -> float:
        # Three beats per lease: one lost beat (a slow database) does not lose the lease.
        return self.lease_seconds / 3


def _retryable(error: BaseException) -> bool:
    return isinstance(error, CodegenFailure) and error.retryable


class TaskWorker:
    def __init__(
        self, leases: LeaseManager, codegen: CodegenClient, config: WorkerConfig, metrics: ExecutionMetrics
    ) -> None:
        self.leases, self.codegen, self.config, self.metrics = leases, codegen, config, metrics

    async def run(self, lease: Lease, execution_id: str | None, user: str) -> str | None:
        """The task's final status, or None when its lease was lost (another worker has it:
        this one's result must not count)."""
        started = time.monotonic()
        work = asyncio.create_task(self._generate(lease.task, execution_id))
        beat = asyncio.create_task(self._keep_alive(lease))
        try:
            await asyncio.wait({work, beat}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Cancelled (execution cancelled, shutdown) or one side finished: stop the other.
            for side in (work, beat):
                if not side.done():
                    side.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(work, beat, return_exceptions=True)
        if work.cancelled():
            log.warning("lease_lost", task=lease.task.key, lease_id=lease.lease_id)
            return None
        error = work.exception()
        outcome = (
            Outcome(success=False, error=f"internal error: {type(error).__name__}: {error}")
            if error is not None
            else work.result()
        )
        if error is not None:
            log.error("task_crashed", task=lease.task.key, error=str(error))
        try:
            _, status = await self.leases.complete(
                lease.task.id,
                lease.lease_id,
                outcome,
                user=user,
                execution_id=execution_id,
                seconds=time.monotonic() - started,
            )
        except DomainError as refused:  # the lease ended meanwhile (expired and taken over)
            log.warning("completion_refused", task=lease.task.key, error=str(refused))
            return None
        return str(status)

    async def _keep_alive(self, lease: Lease) -> None:
        """Returns only when the lease is lost; a failing database is retried until then."""
        deadline = time.monotonic() + self.config.lease_seconds
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            try:
                await self.leases.heartbeat(lease.task.id, lease.lease_id)
                deadline = time.monotonic() + self.config.lease_seconds
            except DomainError as error:
                if error.code.name in ("FAILED_PRECONDITION", "NOT_FOUND") or time.monotonic() > deadline:
                    return
            except Exception as error:
                log.warning("heartbeat_failed", task=lease.task.key, error=str(error))
                if time.monotonic() > deadline:
                    return

    async def _generate(self, task: TaskRecord, execution_id: str | None) -> Outcome:
        db = self.leases.changes.db
        async with db.pool.connection() as conn:
            attempts, findings, error = await store.previous_feedback(conn, task.id)
        agent = task.assigned_to or "generalist-agent"

        def count_retry(_: RetryCallState) -> None:
            self.metrics.retries.inc()

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.max_attempts),
            wait=wait_exponential(multiplier=self.config.backoff_seconds, max=MAX_BACKOFF_SECONDS),
            retry=retry_if_exception(_retryable),
            before_sleep=count_retry,
            reraise=True,
        )
        number = attempts
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempts + attempt.retry_state.attempt_number
                    begun, clock = datetime.now(UTC), time.monotonic()
                    try:
                        generated = await self.codegen.generate(
                            task.id, number, findings, error, f"{execution_id or 'agent'}:{task.id}:{number}"
                        )
                    except CodegenFailure as failure:
                        await self._record(
                            task, execution_id, agent, number, begun, clock, findings, error, failure
                        )
                        # The next attempt learns why this one failed.
                        findings, error = [], failure.message or failure.code.name
                        raise
                    await self._record(
                        task, execution_id, agent, number, begun, clock, findings, error, generated
                    )
                    return _outcome(generated, number, execution_id)
        except CodegenFailure as failure:
            if _retryable(failure) and number - attempts >= self.config.max_attempts:
                self.metrics.retries_exhausted.inc()
            return Outcome(
                success=False,
                error=f"codegen {failure.code.name} after {number - attempts} attempt(s): {failure.message}",
                report={"attempt": number, "grpc_code": failure.code.name, "execution_id": execution_id},
            )
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _record(
        self,
        task: TaskRecord,
        execution_id: str | None,
        agent: str,
        number: int,
        begun: datetime,
        clock: float,
        feedback: list[dict[str, object]],
        previous_error: str,
        result: Generated | CodegenFailure,
    ) -> None:
        """The attempt's history row and agent log, in one transaction."""
        ok = isinstance(result, Generated)
        got = result if isinstance(result, Generated) else None
        failure = None if ok else str(result)
        inputs = f"task {task.key} ({task.kind}) attempt {number}; {len(feedback)} findings fed back"
        if previous_error:
            inputs += f"; previous error: {previous_error[:300]}"
        outputs = (
            f"{len(got.files)} files ({', '.join(f.path for f in got.files[:5])}); "
            f"passed={got.passed} score={got.overall_score:.2f} confidence={got.confidence:.2f}; "
            f"generator {got.generator}"
            if got
            else ""
        )
        async with self.leases.changes.db.pool.connection() as conn, conn.transaction():
            await store.insert_attempt(
                conn,
                store.AttemptRow(
                    task_id=task.id,
                    execution_id=execution_id,
                    attempt=number,
                    agent=agent,
                    started_at=begun,
                    success=ok,
                    generator=got.generator if got else "",
                    temperature=got.temperature if got else None,
                    error=failure,
                    confidence=got.confidence if got else None,
                    overall_score=got.overall_score if got else None,
                    findings=got.findings if got else [],
                    tokens_in=got.tokens_in if got else 0,
                    tokens_out=got.tokens_out if got else 0,
                    cost_usd=got.cost_usd if got else 0.0,
                ),
            )
            await store.insert_agent_log(
                conn,
                store.AgentLog(
                    spec_id=task.spec_id,
                    task_id=task.id,
                    execution_id=execution_id,
                    agent=agent,
                    phase="execution",
                    action="generate",
                    duration_ms=int((time.monotonic() - clock) * 1000),
                    success=ok,
                    input_summary=inputs,
                    output_summary=outputs,
                    error=failure,
                    tokens_in=got.tokens_in if got else 0,
                    tokens_out=got.tokens_out if got else 0,
                    cost_usd=got.cost_usd if got else 0.0,
                ),
            )
        if got and got.cost_usd:
            self.metrics.cost.inc(got.cost_usd)


def _outcome(generated: Generated, attempt: int, execution_id: str | None) -> Outcome:
    """A generation as the task's outcome: code that did not validate, or no code at all,
    goes to a human whatever the confidence says."""
    reasons = []
    if not generated.passed:
        reasons.append(
            "validation did not pass"
            + (f": {', '.join(generated.failed_skills)}" if generated.failed_skills else "")
        )
    if not generated.files:
        reasons.append("no files were generated")
    return Outcome(
        success=True,
        files=generated.files,
        confidence=generated.confidence,
        review_reason="; ".join(reasons),
        report={
            "execution_id": execution_id,
            "attempt": attempt,
            "generator": generated.generator,
            "passed": generated.passed,
            "overall_score": generated.overall_score,
            "confidence": generated.confidence,
            "files": [f.path for f in generated.files],
            "failed_skills": generated.failed_skills,
            "patterns_used": generated.patterns_used,
            "reused_pattern_ids": generated.reused_pattern_ids,
            "tokens": {"input": generated.tokens_in, "output": generated.tokens_out},
            "cost_usd": generated.cost_usd,
        },
    )
