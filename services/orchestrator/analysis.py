"""Dependency analysis of a spec: waves, critical path and parallelism, computed by the
graph store and written back to PostgreSQL (tasks.wave, waves, specs.analysis)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from prometheus_client import Counter, Histogram

from devmatrix.runtime.errors import DependencyCycle, NotFound
from devmatrix.stores.graph import GraphStore
from devmatrix.stores.postgres import Postgres
from services.orchestrator import repository as repo


@dataclass
class WaveSummary:
    number: int
    task_ids: list[str]
    total_effort: int


@dataclass
class Analysis:
    waves: list[WaveSummary] = field(default_factory=list)
    critical_path: list[str] = field(default_factory=list)
    critical_path_effort: int = 0
    total_effort: int = 0
    max_width: int = 0
    average_width: float = 0.0
    ideal_speedup: float = 0.0
    ready_task_ids: list[str] = field(default_factory=list)
    task_count: int = 0


class AnalysisMetrics:
    def __init__(self, registry: object) -> None:
        self.runs = Counter(
            "devmatrix_wave_analysis", "Dependency analyses by outcome.", ("outcome",), registry=registry
        )
        self.seconds = Histogram(
            "devmatrix_wave_analysis_seconds",
            "Time to analyze a spec's dependency graph.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )


async def analyze(db: Postgres, graph: GraphStore, spec_id: str, metrics: AnalysisMetrics) -> Analysis:
    started = time.perf_counter()
    async with db.pool.connection() as conn:
        if await repo.get_spec(conn, spec_id) is None:
            raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
        efforts, ready = await repo.task_efforts_and_ready(conn, spec_id)
    try:
        result = await graph.analyze(spec_id)
    except DependencyCycle:
        metrics.runs.labels("cycle").inc()
        raise
    except Exception:
        metrics.runs.labels("error").inc()
        raise
    by_wave = result.by_wave()
    waves = [
        WaveSummary(number, ids, sum(efforts.get(i, 0) for i in ids)) for number, ids in enumerate(by_wave)
    ]
    total = sum(efforts.get(i, 0) for i in result.waves)
    widths = [len(w.task_ids) for w in waves]
    analysis = Analysis(
        waves=waves,
        critical_path=result.critical_path,
        critical_path_effort=result.critical_path_effort,
        total_effort=total,
        max_width=max(widths, default=0),
        average_width=round(sum(widths) / len(widths), 3) if widths else 0.0,
        ideal_speedup=round(total / result.critical_path_effort, 3) if result.critical_path_effort else 0.0,
        ready_task_ids=ready,
        task_count=len(result.waves),
    )
    async with db.pool.connection() as conn, conn.transaction():
        await repo.write_waves(
            conn, spec_id, result.waves, [(w.number, len(w.task_ids), w.total_effort) for w in waves]
        )
        summary = asdict(analysis)
        summary.pop("waves")
        summary.pop("ready_task_ids")
        await repo.set_spec_analysis(conn, spec_id, summary)
    metrics.runs.labels("success").inc()
    metrics.seconds.observe(time.perf_counter() - started)
    return analysis
