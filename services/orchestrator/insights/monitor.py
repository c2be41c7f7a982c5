"""ProgressMonitor (seed 000): a spec's progress with an ETA, one wave's tasks, the agents'
workload and the whole dashboard, each read from one consistent PostgreSQL snapshot.

Waves come from the dependency analysis; a spec never analyzed is analyzed first (the
same idempotent computation AnalyzeDependencies runs, through the graph store)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from psycopg import AsyncConnection

from devmatrix.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.orchestrator import repository as repo
from services.orchestrator.analysis import analyze
from services.orchestrator.domain import TaskStatus
from services.orchestrator.insights import monitor_queries as q
from services.orchestrator.insights.records import (
    REMAINING,
    AgentLoad,
    Dashboard,
    Eta,
    ExecutionRow,
    SpecProgress,
    TaskRun,
    WaveStatus,
)
from services.orchestrator.progress import Counts, Progress
from services.orchestrator.records import SpecRecord

if TYPE_CHECKING:
    from services.orchestrator.runtime import OrchestratorRuntime


async def spec_or_not_found(conn: AsyncConnection, spec_id: str) -> SpecRecord:
    spec = await repo.get_spec(conn, spec_id)
    if spec is None:
        raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
    return spec


async def analyzed_spec(rt: OrchestratorRuntime, spec_id: str) -> SpecRecord:
    """The spec, its waves computed first if it was never analyzed."""
    async with rt.db.pool.connection() as conn:
        spec = await spec_or_not_found(conn, spec_id)
    if spec.analysis is not None:
        return spec
    await rt.ensure_graph(spec_id)
    await analyze(rt.db, rt.graph, spec_id, rt.analysis_metrics)
    async with rt.db.pool.connection() as conn:
        return await spec_or_not_found(conn, spec_id)


def progress_of(spec: SpecRecord, runs: list[TaskRun]) -> Progress:
    """Counts by status overall, per phase, per wave and per agent (GetProgress's figures)."""
    overall = Counts()
    phases: dict[int, Counts] = defaultdict(Counts)
    waves: dict[int, Counts] = defaultdict(Counts)
    agents: dict[str, Counts] = defaultdict(Counts)
    for run in runs:
        args = (run.status, 1, run.effort)
        overall.add(*args)
        phases[run.phase].add(*args)
        if run.wave is not None:
            waves[run.wave].add(*args)
        if run.agent:
            agents[run.agent].add(*args)
    return Progress(spec.id, spec.status, overall, dict(phases), dict(waves), dict(agents))


def eta_of(runs: list[TaskRun], concurrency: int) -> Eta:
    """Waves run one after the other and a wave's tasks `concurrency` at a time, each task
    taking the average duration of the spec's completed tasks that were measured."""
    concurrency = max(1, concurrency)
    measured = [r.duration_seconds for r in runs if r.status == TaskStatus.COMPLETED and r.recorded_attempts]
    remaining = Counter(r.wave for r in runs if r.status in REMAINING)
    eta = Eta(remaining_tasks=sum(remaining.values()), concurrency=concurrency, measured_tasks=len(measured))
    if not measured:
        return eta
    eta.known = True
    eta.average_task_seconds = round(sum(measured) / len(measured), 3)
    rounds = sum(math.ceil(n / concurrency) for n in remaining.values())
    eta.seconds = round(rounds * sum(measured) / len(measured), 3)
    return eta


def concurrency_of(execution: ExecutionRow | None) -> int:
    return execution.concurrency if execution is not None and execution.concurrency > 0 else 1


async def spec_progress(rt: OrchestratorRuntime, spec_id: str) -> SpecProgress:
    await analyzed_spec(rt, spec_id)  # the ETA runs wave by wave
    async with rt.db.pool.connection() as conn, conn.transaction():
        await q.read_only_snapshot(conn)
        spec = await spec_or_not_found(conn, spec_id)
        runs = await q.task_runs(conn, spec_id)
        execution = await q.latest_execution(conn, spec_id)
    return SpecProgress(progress_of(spec, runs), eta_of(runs, concurrency_of(execution)))


async def wave_status(rt: OrchestratorRuntime, spec_id: str, wave: int) -> WaveStatus:
    if wave < 0:
        raise InvalidArgument(f"wave must not be negative (got {wave})", [FieldViolation("wave", ">= 0")])
    spec = await analyzed_spec(rt, spec_id)
    async with rt.db.pool.connection() as conn, conn.transaction():
        await q.read_only_snapshot(conn)
        count = await q.wave_count(conn, spec_id)
        if wave >= count:
            raise NotFound(
                f"spec {spec_id} has no wave {wave} ({count} waves: 0..{count - 1})", "wave", str(wave)
            )
        runs = await q.task_runs(conn, spec_id, wave)
    critical = set((spec.analysis or {}).get("critical_path") or [])
    return WaveStatus(spec_id, wave, count, progress_of(spec, runs), runs, critical)


async def agent_workload(rt: OrchestratorRuntime, spec_id: str) -> list[AgentLoad]:
    async with rt.db.pool.connection() as conn, conn.transaction():
        await q.read_only_snapshot(conn)
        await spec_or_not_found(conn, spec_id)
        return await q.agent_loads(conn, spec_id)


async def dashboard(rt: OrchestratorRuntime, spec_id: str) -> Dashboard:
    await analyzed_spec(rt, spec_id)
    async with rt.db.pool.connection() as conn, conn.transaction():
        await q.read_only_snapshot(conn)
        spec = await spec_or_not_found(conn, spec_id)
        runs = await q.task_runs(conn, spec_id)
        efforts = await q.wave_efforts(conn, spec_id)
        edges = await q.edges(conn, spec_id)
        agents = await q.agent_loads(conn, spec_id)
        execution = await q.latest_execution(conn, spec_id)
        usage = await q.spec_usage(conn, spec_id)
    analysis = spec.analysis or {}
    return Dashboard(
        spec=spec,
        progress=SpecProgress(progress_of(spec, runs), eta_of(runs, concurrency_of(execution))),
        tasks=runs,
        wave_efforts=efforts,
        edges=edges,
        critical_path=list(analysis.get("critical_path") or []),
        critical_path_effort=int(analysis.get("critical_path_effort") or 0),
        agents=agents,
        review_queue_size=sum(1 for r in runs if r.status == TaskStatus.NEEDS_REVIEW),
        retries=sum(max(r.attempts - 1, 0) for r in runs),
        latest_execution=execution,
        usage=usage,
        generated_at=datetime.now(UTC),
    )
