"""What the insights queries answer with: plain dataclasses, no protobuf, no SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.orchestrator.progress import Progress
from services.orchestrator.records import SpecRecord

# Statuses a task leaves only by running: what an ETA has to cover.
REMAINING = ("PENDING", "READY", "RUNNING", "BLOCKED")


@dataclass
class TaskRun:
    """An executable task with what its attempts took."""

    id: str
    key: str
    name: str
    status: str
    kind: str
    phase: int
    effort: int
    wave: int | None
    agent: str
    attempts: int
    confidence: float
    depends_on: list[str]
    # Summed over its recorded attempts (each recorded when it ends).
    duration_seconds: float
    # A completed task without a recorded attempt (moved by hand) has no measured duration.
    recorded_attempts: int
    position: int


@dataclass
class Eta:
    known: bool = False
    seconds: float = 0.0
    average_task_seconds: float = 0.0
    measured_tasks: int = 0
    remaining_tasks: int = 0
    concurrency: int = 1


@dataclass
class SpecProgress:
    progress: Progress
    eta: Eta


@dataclass
class WaveStatus:
    spec_id: str
    wave: int
    wave_count: int
    progress: Progress
    tasks: list[TaskRun]
    critical_path: set[str]


@dataclass
class AgentLoad:
    agent: str
    assigned: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    needs_review: int = 0
    actions: int = 0
    failed_actions: int = 0
    mean_duration_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass
class Usage:
    attempts: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass
class ExecutionRow:
    id: str
    status: str
    concurrency: int
    waves_executed: int
    tasks_completed: int
    tasks_failed: int
    tasks_in_review: int
    wall_seconds: float
    sequential_seconds: float
    started_at: datetime | None
    finished_at: datetime | None
    usage: Usage = field(default_factory=Usage)


@dataclass
class Dashboard:
    spec: SpecRecord
    progress: SpecProgress
    tasks: list[TaskRun]
    wave_efforts: dict[int, int]
    edges: list[tuple[str, str]]
    critical_path: list[str]
    critical_path_effort: int
    agents: list[AgentLoad]
    review_queue_size: int
    retries: int
    latest_execution: ExecutionRow | None
    usage: Usage
    generated_at: datetime


@dataclass
class AttemptFailure:
    task_id: str
    task_key: str
    spec_id: str
    execution_id: str
    attempt: int
    agent: str
    generator: str
    error: str
    score: float
    failed_at: datetime | None


@dataclass
class SimilarFailures:
    # patterns_pb2.FailureMatch messages, passed through from the pattern store.
    stored: list[Any]
    attempts: list[AttemptFailure]
    degraded: bool


@dataclass
class KindCorrection:
    kind: str
    samples: int
    median_seconds_per_effort: float
    correction_factor: float


@dataclass
class EstimateCorrections:
    corrections: list[KindCorrection]
    baseline_seconds_per_effort: float
    samples: int


@dataclass
class ScopeCreep:
    spec_id: str
    planned_tasks: int
    current_tasks: int
    added_tasks: int
    regenerated_tasks: int
    extra_attempts: int
    threshold: float

    @property
    def actual_tasks(self) -> int:
        return self.current_tasks + self.extra_attempts

    @property
    def ratio(self) -> float:
        return round(self.actual_tasks / self.planned_tasks, 4) if self.planned_tasks else 0.0

    @property
    def creeping(self) -> bool:
        return self.ratio > self.threshold


@dataclass
class AgentLatency:
    agent: str
    actions: int
    failures: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    tokens_in: int
    tokens_out: int
    cost_usd: float

    @property
    def failure_rate(self) -> float:
        return round(self.failures / self.actions, 4) if self.actions else 0.0


@dataclass
class RetentionResult:
    deleted: int
    cutoff: datetime
    retention_days: int
    dry_run: bool
    skipped: bool = False
