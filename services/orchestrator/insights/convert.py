"""Protobuf <-> domain translation for the insights servicer: request checks (each
naming its field) and the answers built from the query records."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from devmatrix.v1 import common_pb2
from devmatrix.v1 import insights_pb2 as pb
from devmatrix.v1 import orchestrator_pb2 as opb
from services.orchestrator import convert as oconv
from services.orchestrator.insights.records import (
    AgentLatency,
    AgentLoad,
    AttemptFailure,
    Dashboard,
    EstimateCorrections,
    Eta,
    ExecutionRow,
    RetentionResult,
    ScopeCreep,
    SpecProgress,
    TaskRun,
    WaveStatus,
)
from services.orchestrator.progress import Progress

DEFAULT_TOP_K, MAX_TOP_K = 5, 50
DEFAULT_LIMIT, MAX_LIMIT = 10, 100
MAX_TEXT = 2000
MAX_RETENTION_DAYS = 36500


def invalid(field: str, message: str, expected: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {message}", [FieldViolation(field, expected)])


def require_uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise invalid(field, "is required" if not value else f"{value!r} is not a UUID", "a UUID") from None


def bounded(value: int, field: str, default: int, maximum: int) -> int:
    if value == 0:
        return default
    if not 1 <= value <= maximum:
        raise invalid(
            field, f"must be between 1 and {maximum}, or 0 for {default} (got {value})", f"1..{maximum}"
        )
    return value


def text(value: str, field: str = "text") -> str:
    value = value.strip()
    if not value:
        raise invalid(field, "is required", "a non-empty text")
    if len(value) > MAX_TEXT:
        raise invalid(field, f"is longer than {MAX_TEXT} characters", f"at most {MAX_TEXT} characters")
    return value


def unit(value: float, field: str) -> float:
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise invalid(field, f"must be between 0 and 1 (got {value})", "0..1")
    return value


def since(message: object, field: str = "since") -> datetime | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    ts: Timestamp = getattr(message, field)
    if ts.nanos < 0 or ts.nanos > 999_999_999:
        raise invalid(field, "is not a valid timestamp", "a timestamp")
    return ts.ToDatetime(tzinfo=UTC)


def kind(value: int, field: str = "kind") -> str | None:
    if value == common_pb2.TASK_KIND_UNSPECIFIED:
        return None
    if value not in common_pb2.TaskKind.values():
        raise invalid(field, f"{value} is not a task kind", "a TaskKind")
    return common_pb2.TaskKind.Name(value).removeprefix("TASK_KIND_")


def retention_days(value: int, configured: int) -> int:
    if value == 0:
        return configured
    if not 1 <= value <= MAX_RETENTION_DAYS:
        raise invalid(
            "retention_days",
            f"must be between 1 and {MAX_RETENTION_DAYS}, or 0 for the configured {configured}",
            f"1..{MAX_RETENTION_DAYS}",
        )
    return value


# --- answers -------------------------------------------------------------------------------


def eta_to_pb(eta: Eta) -> pb.ProgressEta:
    return pb.ProgressEta(
        known=eta.known,
        seconds=eta.seconds,
        average_task_seconds=eta.average_task_seconds,
        measured_tasks=eta.measured_tasks,
        remaining_tasks=eta.remaining_tasks,
        concurrency=eta.concurrency,
    )


def spec_progress_to_pb(sp: SpecProgress) -> pb.SpecProgress:
    p = sp.progress
    return pb.SpecProgress(
        spec_id=p.spec_id,
        spec_status=opb.SpecStatus.Value(f"SPEC_STATUS_{p.spec_status}"),
        overall=oconv.counts_to_pb(p.overall),
        phases=[
            opb.PhaseProgress(phase=n, name=Progress.phase_name(n), counts=oconv.counts_to_pb(c))
            for n, c in sorted(p.phases.items())
        ],
        waves=[opb.WaveProgress(wave=n, counts=oconv.counts_to_pb(c)) for n, c in sorted(p.waves.items())],
        current_wave=p.current_wave,
        eta=eta_to_pb(sp.eta),
    )


def task_to_pb(run: TaskRun, critical: set[str]) -> pb.WaveTask:
    return pb.WaveTask(
        task_id=run.id,
        key=run.key,
        name=run.name,
        status=oconv.status_to_pb(run.status),
        kind=common_pb2.TaskKind.Value(f"TASK_KIND_{run.kind}"),
        phase=run.phase,
        effort=run.effort,
        wave=-1 if run.wave is None else run.wave,
        agent=run.agent,
        attempts=run.attempts,
        duration_seconds=run.duration_seconds,
        confidence=run.confidence,
        depends_on=run.depends_on,
        on_critical_path=run.id in critical,
    )


def wave_status_to_pb(w: WaveStatus) -> pb.GetWaveStatusResponse:
    return pb.GetWaveStatusResponse(
        spec_id=w.spec_id,
        wave=w.wave,
        wave_count=w.wave_count,
        counts=oconv.counts_to_pb(w.progress.overall),
        tasks=[task_to_pb(t, w.critical_path) for t in w.tasks],
    )


def agent_to_pb(a: AgentLoad) -> pb.AgentWorkload:
    return pb.AgentWorkload(
        agent=a.agent,
        assigned=a.assigned,
        running=a.running,
        completed=a.completed,
        failed=a.failed,
        needs_review=a.needs_review,
        actions=a.actions,
        failed_actions=a.failed_actions,
        mean_duration_ms=a.mean_duration_ms,
        tokens_in=a.tokens_in,
        tokens_out=a.tokens_out,
        cost_usd=a.cost_usd,
    )


def execution_status(status: str) -> int:
    try:
        return opb.ExecutionStatus.Value(f"EXECUTION_STATUS_{status}")
    except ValueError:
        return opb.EXECUTION_STATUS_UNSPECIFIED


def execution_to_pb(e: ExecutionRow) -> pb.ExecutionSummary:
    return pb.ExecutionSummary(
        id=e.id,
        status=execution_status(e.status),  # type: ignore[arg-type]
        concurrency=e.concurrency,
        waves_executed=e.waves_executed,
        tasks_completed=e.tasks_completed,
        tasks_failed=e.tasks_failed,
        tasks_in_review=e.tasks_in_review,
        wall_seconds=e.wall_seconds,
        sequential_seconds=e.sequential_seconds,
        started_at=oconv.timestamp(e.started_at),
        finished_at=oconv.timestamp(e.finished_at),
        attempts=e.usage.attempts,
        tokens_in=e.usage.tokens_in,
        tokens_out=e.usage.tokens_out,
        cost_usd=e.usage.cost_usd,
    )


def dashboard_to_pb(d: Dashboard) -> pb.GetDashboardResponse:
    critical = set(d.critical_path)
    by_wave: dict[int, list[TaskRun]] = defaultdict(list)
    for run in d.tasks:
        if run.wave is not None:
            by_wave[run.wave].append(run)
    waves_pb = [
        pb.DashboardWave(
            number=n,
            total_effort=d.wave_efforts.get(n, sum(t.effort for t in by_wave[n])),
            counts=oconv.counts_to_pb(d.progress.progress.waves[n]),
            tasks=[task_to_pb(t, critical) for t in by_wave[n]],
        )
        for n in sorted(by_wave)
    ]
    return pb.GetDashboardResponse(
        spec=oconv.spec_to_pb(d.spec),
        progress=spec_progress_to_pb(d.progress),
        waves=waves_pb,
        edges=[pb.DependencyEdge(task_id=t, depends_on_id=dep) for t, dep in d.edges],
        critical_path=d.critical_path,
        critical_path_effort=d.critical_path_effort,
        agents=[agent_to_pb(a) for a in d.agents],
        review_queue_size=d.review_queue_size,
        retries=d.retries,
        latest_execution=execution_to_pb(d.latest_execution) if d.latest_execution else None,
        tokens_in=d.usage.tokens_in,
        tokens_out=d.usage.tokens_out,
        cost_usd=d.usage.cost_usd,
        generated_at=oconv.timestamp(d.generated_at),
    )


def attempt_failure_to_pb(f: AttemptFailure) -> pb.AttemptFailure:
    return pb.AttemptFailure(
        task_id=f.task_id,
        task_key=f.task_key,
        spec_id=f.spec_id,
        execution_id=f.execution_id,
        attempt=f.attempt,
        agent=f.agent,
        generator=f.generator,
        error=f.error,
        score=f.score,
        failed_at=oconv.timestamp(f.failed_at),
    )


def corrections_to_pb(c: EstimateCorrections) -> pb.GetEstimateCorrectionResponse:
    return pb.GetEstimateCorrectionResponse(
        corrections=[
            pb.EstimateCorrection(
                kind=common_pb2.TaskKind.Value(f"TASK_KIND_{k.kind}"),
                samples=k.samples,
                median_seconds_per_effort=k.median_seconds_per_effort,
                correction_factor=k.correction_factor,
            )
            for k in c.corrections
        ],
        baseline_seconds_per_effort=c.baseline_seconds_per_effort,
        samples=c.samples,
    )


def scope_creep_to_pb(s: ScopeCreep) -> pb.GetScopeCreepResponse:
    return pb.GetScopeCreepResponse(
        spec_id=s.spec_id,
        planned_tasks=s.planned_tasks,
        current_tasks=s.current_tasks,
        added_tasks=s.added_tasks,
        regenerated_tasks=s.regenerated_tasks,
        extra_attempts=s.extra_attempts,
        actual_tasks=s.actual_tasks,
        ratio=s.ratio,
        threshold=s.threshold,
        creeping=s.creeping,
    )


def latency_to_pb(a: AgentLatency) -> pb.AgentLatency:
    return pb.AgentLatency(
        agent=a.agent,
        actions=a.actions,
        failures=a.failures,
        failure_rate=a.failure_rate,
        mean_ms=a.mean_ms,
        p50_ms=a.p50_ms,
        p95_ms=a.p95_ms,
        max_ms=a.max_ms,
        tokens_in=a.tokens_in,
        tokens_out=a.tokens_out,
        cost_usd=a.cost_usd,
    )


def retention_to_pb(r: RetentionResult) -> pb.RunRetentionResponse:
    return pb.RunRetentionResponse(
        agent_logs_deleted=r.deleted,
        cutoff=oconv.timestamp(r.cutoff),
        retention_days=r.retention_days,
        dry_run=r.dry_run,
        skipped=r.skipped,
    )
