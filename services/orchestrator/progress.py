"""Progress of a spec over its executable tasks: overall, per phase, per wave, per agent."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from devmatrix.runtime.errors import NotFound
from devmatrix.stores.postgres import Postgres
from services.orchestrator import repository as repo
from services.orchestrator.domain import PHASE_NAMES, TaskStatus

FINISHED = (TaskStatus.COMPLETED, TaskStatus.SKIPPED)


@dataclass
class Counts:
    by_status: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in TaskStatus})
    effort_total: int = 0
    effort_completed: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def percent_complete(self) -> float:
        done = sum(self.by_status[s] for s in FINISHED)
        return round(100.0 * done / self.total, 1) if self.total else 0.0

    def add(self, status: str, n: int, effort: int) -> None:
        self.by_status[status] += n
        self.effort_total += effort
        if status in FINISHED:
            self.effort_completed += effort


@dataclass
class Progress:
    spec_id: str
    spec_status: str
    overall: Counts
    phases: dict[int, Counts]
    waves: dict[int, Counts]
    agents: dict[str, Counts]

    @property
    def current_wave(self) -> int:
        unfinished = [w for w, c in sorted(self.waves.items()) if c.percent_complete < 100.0]
        return unfinished[0] if unfinished else -1

    @staticmethod
    def phase_name(phase: int) -> str:
        return PHASE_NAMES.get(phase, f"Phase {phase}")


async def progress(db: Postgres, spec_id: str) -> Progress:
    async with db.pool.connection() as conn:
        spec = await repo.get_spec(conn, spec_id)
        if spec is None:
            raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
        rows = await repo.progress_rows(conn, spec_id)
    overall = Counts()
    phases: dict[int, Counts] = defaultdict(Counts)
    waves: dict[int, Counts] = defaultdict(Counts)
    agents: dict[str, Counts] = defaultdict(Counts)
    for row in rows:
        args = (row["status"], row["n"], row["effort"] or 0)
        overall.add(*args)
        phases[row["phase"]].add(*args)
        if row["wave"] is not None:
            waves[row["wave"]].add(*args)
        if row["agent"]:
            agents[row["agent"]].add(*args)
    return Progress(spec_id, spec.status, overall, dict(phases), dict(waves), dict(agents))
