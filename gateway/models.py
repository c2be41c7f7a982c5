"""The JSON the gateway answers and accepts: pydantic models, so /openapi.json describes
exactly what the routes return. Enum values are the proto enum names without their prefix
(TASK_STATUS_READY -> READY); ids are UUIDs as strings; times are RFC 3339 in UTC."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    BLOCKED = "BLOCKED"
    SKIPPED = "SKIPPED"
    NEEDS_REVIEW = "NEEDS_REVIEW"


class TaskType(StrEnum):
    PHASE = "PHASE"
    TASK_GROUP = "TASK_GROUP"
    TASK = "TASK"
    SUBTASK = "SUBTASK"


class ContextLevel(StrEnum):
    minimal = "minimal"
    standard = "standard"
    extended = "extended"


# ---- specs and tasks ----


class Spec(BaseModel):
    id: str
    name: str
    title: str
    format: str = Field(description="MARKDOWN or JSON_PLAN.")
    status: str = Field(description="PLANNED, ANALYZED, RUNNING, COMPLETED, FAILED or CANCELLED.")
    overview: str
    tech_stack: dict[str, str]
    constraints: list[str]
    task_count: int
    created_at: datetime | None
    updated_at: datetime | None


class CreateSpecBody(BaseModel):
    """Exactly one of `markdown` (a markdown spec) or `plan` (a JSON task plan)."""

    name: str = Field(default="", max_length=200, description="Display name; defaults to the spec's title.")
    markdown: str | None = Field(default=None, description="A markdown spec.")
    plan: dict[str, Any] | None = Field(
        default=None,
        description='A JSON plan: {"spec": {"title", ...}, "tasks": [{"key", "type", "parent", "name", ...}]}.',
    )


class SpecCreated(BaseModel):
    spec: Spec
    created: bool = Field(
        description="False when the Idempotency-Key was seen before: the first spec is returned."
    )
    requirement_count: int


class SpecList(BaseModel):
    specs: list[Spec]
    next_page_token: str | None


class Requirement(BaseModel):
    id: str
    key: str
    category: str
    text: str
    priority: int


class SpecDetail(BaseModel):
    spec: Spec
    requirements: list[Requirement]


class Task(BaseModel):
    id: str
    spec_id: str
    parent_id: str | None
    key: str
    type: TaskType
    name: str
    description: str
    status: TaskStatus
    effort: int
    assigned_to: str | None
    phase: int
    priority: int
    kind: str = Field(description="API, MODEL, CRUD, UI, TEST, CONFIG, DOCS, GENERIC, MIGRATION or DEPLOY.")
    acceptance_criteria: list[str]
    expected_output: str
    required_skills: list[str]
    depends_on: list[str] = Field(description="Ids of the tasks this task depends on.")
    wave: int | None = Field(description="Execution wave; null when not scheduled or not analyzed yet.")
    position: int
    version: int
    created_at: datetime | None
    updated_at: datetime | None


class TaskPage(BaseModel):
    tasks: list[Task]
    next_page_token: str | None = Field(description="Pass as page_token for the next page; null on the last.")
    total_size: int = Field(description="Tasks matching the filters, over all pages.")


class TaskDetail(BaseModel):
    task: Task
    dependencies: list[Task]
    dependents: list[Task]
    parent: Task | None


class DependencyState(BaseModel):
    task_id: str
    key: str
    status: TaskStatus


class TaskState(BaseModel):
    task_id: str
    spec_id: str
    key: str
    name: str
    type: TaskType
    status: TaskStatus
    wave: int | None
    assigned_to: str | None
    version: int
    updated_at: datetime | None
    dependencies: list[DependencyState]
    unfinished_dependencies: int = Field(description="Dependencies not COMPLETED or SKIPPED.")


class TaskExecution(BaseModel):
    task: Task = Field(description="The task after its wave ran.")
    wave: int
    succeeded: int = Field(description="Tasks of the wave completed by this execution.")
    failed: int
    in_review: int


# ---- analysis, progress, waves, executions ----


class AnalyzeBody(BaseModel):
    spec_id: str


class Wave(BaseModel):
    number: int
    task_ids: list[str]
    total_effort: int


class Analysis(BaseModel):
    spec_id: str
    waves: list[Wave]
    critical_path: list[str]
    critical_path_effort: int
    total_effort: int
    max_width: int
    average_width: float
    ideal_speedup: float
    ready_task_ids: list[str]
    task_count: int


class ProgressCounts(BaseModel):
    total: int
    pending: int
    ready: int
    running: int
    completed: int
    failed: int
    blocked: int
    skipped: int
    needs_review: int
    percent_complete: float
    effort_total: int
    effort_completed: int


class PhaseProgress(BaseModel):
    phase: int
    name: str
    counts: ProgressCounts


class WaveProgress(BaseModel):
    wave: int
    counts: ProgressCounts


class AgentProgress(BaseModel):
    agent: str
    counts: ProgressCounts


class Progress(BaseModel):
    spec_id: str
    spec_status: str
    overall: ProgressCounts
    phases: list[PhaseProgress]
    waves: list[WaveProgress]
    agents: list[AgentProgress]
    current_wave: int | None = Field(description="Lowest wave with unfinished tasks; null when all are done.")


class WaveTask(BaseModel):
    task_id: str
    key: str
    name: str
    status: TaskStatus
    kind: str
    phase: int
    effort: int
    wave: int
    agent: str | None
    attempts: int
    duration_seconds: float
    confidence: float
    depends_on: list[str]
    on_critical_path: bool


class CurrentWave(BaseModel):
    spec_id: str
    wave: int | None = Field(
        description="The lowest wave with unfinished tasks; null when every wave is done."
    )
    wave_count: int
    complete: bool = Field(description="True when every wave is done.")
    counts: ProgressCounts | None
    tasks: list[WaveTask]


class RunBody(BaseModel):
    concurrency: int = Field(
        default=0, ge=0, le=64, description="Workers per wave; 0 is the server's default."
    )


class Execution(BaseModel):
    id: str
    spec_id: str
    status: str = Field(description="RUNNING, COMPLETED, FAILED or CANCELLED.")
    waves_executed: int
    tasks_completed: int
    tasks_failed: int
    tasks_in_review: int
    wall_seconds: float
    sequential_seconds: float
    started_at: datetime | None
    finished_at: datetime | None


class TaskEvent(BaseModel):
    """One status change, as the `task` events of the progress stream carry it."""

    spec_id: str
    task_id: str
    task_key: str
    previous_status: TaskStatus | None
    status: TaskStatus
    reason: str
    actor: str
    at: datetime | None


# ---- context, patterns, skills, review ----


class ContextSection(BaseModel):
    name: str
    content: str
    bytes: int
    tokens: int
    trimmed: bool
    degraded: bool
    priority: int


class TaskContext(BaseModel):
    task_id: str
    level: ContextLevel
    text: str
    sections: list[ContextSection]
    total_bytes: int
    budget_bytes: int
    token_count: int
    token_counter: str
    trimmed_sections: list[str]
    dropped_sections: list[str]
    degraded_sections: list[str] = Field(
        description="Sections left out because their service was slow or down."
    )
    cache_hit: bool


class Pattern(BaseModel):
    id: str
    name: str
    category: str
    language: str
    framework: str
    description: str
    code: str
    success_rate: float
    test_coverage: float
    security_score: float
    observability_score: float
    production_score: float
    production_ready: bool
    usage_count: int
    tags: list[str]
    source: str


class PatternMatch(BaseModel):
    pattern: Pattern
    similarity: float
    metadata_score: float
    hybrid_score: float


class PatternSearch(BaseModel):
    query: str
    matches: list[PatternMatch]


class Skill(BaseModel):
    name: str
    domain: str
    description: str
    guidelines: list[str]
    threshold: float
    languages: list[str]


class SkillList(BaseModel):
    skills: list[Skill]


class File(BaseModel):
    path: str = Field(min_length=1, max_length=1000)
    content: str
    language: str = ""


class CheckBody(BaseModel):
    files: list[File] = Field(min_length=1, max_length=2000)
    skills: list[str] = Field(
        default=[], description="Skills to check; empty checks every skill that applies."
    )
    task_id: str | None = None


class Finding(BaseModel):
    skill: str
    rule: str
    path: str
    line: int
    message: str
    severity: str = Field(description="INFO, WARNING or ERROR.")
    fixable: bool


class SkillValidation(BaseModel):
    skill: str
    score: float
    passed: bool
    threshold: float
    findings: list[Finding]


class SkippedFile(BaseModel):
    path: str
    reason: str


class CheckResult(BaseModel):
    passed: bool
    overall_score: float
    results: list[SkillValidation]
    skipped: list[SkippedFile]


class ReviewItem(BaseModel):
    task: Task
    reason: str
    confidence: float
    files: list[File]


class ReviewQueue(BaseModel):
    spec_id: str
    items: list[ReviewItem]


class ReviewBody(BaseModel):
    comment: str = Field(
        default="", max_length=20_000, description="Kept in the audit log; fed to the generator."
    )


class EditBody(ReviewBody):
    files: list[File] = Field(min_length=1, description="Replacement files: they replace the task's files.")


class ReviewResolved(BaseModel):
    task: Task


class Health(BaseModel):
    status: str = Field(description="ok / ready / not ready.")
    services: dict[str, str] = Field(default={}, description="Each service's grpc health status.")
