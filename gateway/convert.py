"""Protobuf messages -> the gateway's JSON models (gateway/models.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import context_pb2, insights_pb2, patterns_pb2, skills_pb2
from devmatrix.v1 import orchestrator_pb2 as pb
from gateway import models as m

LEVELS = {
    m.ContextLevel.minimal: context_pb2.CONTEXT_LEVEL_MINIMAL,
    m.ContextLevel.standard: context_pb2.CONTEXT_LEVEL_STANDARD,
    m.ContextLevel.extended: context_pb2.CONTEXT_LEVEL_EXTENDED,
}


def fields(message: Message) -> dict[str, Any]:
    """A message's fields by their proto names, defaults included, for a model whose fields
    have the same names and no enums (int64 values come as strings; the model converts)."""
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def enum_name(enum: object, value: int, prefix: str) -> str:
    """pb.SpecStatus, 1, "SPEC_STATUS_" -> "PLANNED"; an unknown value -> "UNSPECIFIED"."""
    try:
        return str(enum.Name(value)).removeprefix(prefix)  # type: ignore[attr-defined]
    except ValueError:
        return "UNSPECIFIED"


def status(value: int) -> m.TaskStatus:
    return m.TaskStatus(enum_name(c.TaskStatus, value, "TASK_STATUS_"))


def optional_status(value: int) -> m.TaskStatus | None:
    return None if value == c.TASK_STATUS_UNSPECIFIED else status(value)


def status_to_pb(value: m.TaskStatus) -> int:
    return int(c.TaskStatus.Value(f"TASK_STATUS_{value.value}"))


def type_to_pb(value: m.TaskType) -> int:
    return int(c.TaskType.Value(f"TASK_TYPE_{value.value}"))


def time(ts: Timestamp) -> datetime | None:
    if not ts.seconds and not ts.nanos:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def wave(value: int) -> int | None:
    return None if value < 0 else value


def spec(s: pb.Spec) -> m.Spec:
    return m.Spec(
        id=s.id,
        name=s.name,
        title=s.title,
        format=enum_name(pb.SpecFormat, s.format, "SPEC_FORMAT_"),
        status=enum_name(pb.SpecStatus, s.status, "SPEC_STATUS_"),
        overview=s.overview,
        tech_stack=dict(s.tech_stack),
        constraints=list(s.constraints),
        task_count=s.task_count,
        created_at=time(s.created_at),
        updated_at=time(s.updated_at),
    )


def requirement(r: pb.Requirement) -> m.Requirement:
    return m.Requirement(
        id=r.id,
        key=r.key,
        category=enum_name(pb.RequirementCategory, r.category, "REQUIREMENT_CATEGORY_"),
        text=r.text,
        priority=r.priority,
    )


def task(t: c.Task) -> m.Task:
    return m.Task(
        id=t.id,
        spec_id=t.spec_id,
        parent_id=t.parent_id or None,
        key=t.key,
        type=m.TaskType(enum_name(c.TaskType, t.type, "TASK_TYPE_")),
        name=t.name,
        description=t.description,
        status=status(t.status),
        effort=t.effort,
        assigned_to=t.assigned_to or None,
        phase=t.phase,
        priority=t.priority,
        kind=enum_name(c.TaskKind, t.kind, "TASK_KIND_"),
        acceptance_criteria=list(t.acceptance_criteria),
        expected_output=t.expected_output,
        required_skills=list(t.required_skills),
        depends_on=list(t.depends_on),
        wave=wave(t.wave),
        position=t.position,
        version=t.version,
        created_at=time(t.created_at),
        updated_at=time(t.updated_at),
    )


def task_state(reply: pb.GetTaskResponse) -> m.TaskState:
    t = reply.task
    finished = (c.TASK_STATUS_COMPLETED, c.TASK_STATUS_SKIPPED)
    return m.TaskState(
        task_id=t.id,
        spec_id=t.spec_id,
        key=t.key,
        name=t.name,
        type=m.TaskType(enum_name(c.TaskType, t.type, "TASK_TYPE_")),
        status=status(t.status),
        wave=wave(t.wave),
        assigned_to=t.assigned_to or None,
        version=t.version,
        updated_at=time(t.updated_at),
        dependencies=[
            m.DependencyState(task_id=d.id, key=d.key, status=status(d.status)) for d in reply.dependencies
        ],
        unfinished_dependencies=sum(1 for d in reply.dependencies if d.status not in finished),
    )


def analysis(spec_id: str, a: pb.AnalyzeDependenciesResponse) -> m.Analysis:
    return m.Analysis.model_validate({**fields(a), "spec_id": spec_id})


def counts(p: pb.ProgressCounts) -> m.ProgressCounts:
    return m.ProgressCounts.model_validate(fields(p))


def progress(p: pb.GetProgressResponse) -> m.Progress:
    return m.Progress(
        spec_id=p.spec_id,
        spec_status=enum_name(pb.SpecStatus, p.spec_status, "SPEC_STATUS_"),
        overall=counts(p.overall),
        phases=[m.PhaseProgress(phase=x.phase, name=x.name, counts=counts(x.counts)) for x in p.phases],
        waves=[m.WaveProgress(wave=x.wave, counts=counts(x.counts)) for x in p.waves],
        agents=[m.AgentProgress(agent=x.agent, counts=counts(x.counts)) for x in p.agents],
        current_wave=wave(p.current_wave),
    )


def wave_task(t: insights_pb2.WaveTask) -> m.WaveTask:
    return m.WaveTask(
        task_id=t.task_id,
        key=t.key,
        name=t.name,
        status=status(t.status),
        kind=enum_name(c.TaskKind, t.kind, "TASK_KIND_"),
        phase=t.phase,
        effort=t.effort,
        wave=t.wave,
        agent=t.agent or None,
        attempts=t.attempts,
        duration_seconds=t.duration_seconds,
        confidence=t.confidence,
        depends_on=list(t.depends_on),
        on_critical_path=t.on_critical_path,
    )


def execution(e: pb.Execution) -> m.Execution:
    return m.Execution(
        id=e.id,
        spec_id=e.spec_id,
        status=enum_name(pb.ExecutionStatus, e.status, "EXECUTION_STATUS_"),
        waves_executed=e.waves_executed,
        tasks_completed=e.tasks_completed,
        tasks_failed=e.tasks_failed,
        tasks_in_review=e.tasks_in_review,
        wall_seconds=e.wall_seconds,
        sequential_seconds=e.sequential_seconds,
        started_at=time(e.started_at),
        finished_at=time(e.finished_at),
    )


def task_event(e: pb.TaskEvent) -> m.TaskEvent:
    return m.TaskEvent(
        spec_id=e.spec_id,
        task_id=e.task_id,
        task_key=e.task_key,
        previous_status=optional_status(e.previous_status),
        status=status(e.status),
        reason=e.reason,
        actor=e.actor,
        at=time(e.at),
    )


def context(r: context_pb2.GetContextResponse, level: m.ContextLevel) -> m.TaskContext:
    return m.TaskContext.model_validate({**fields(r), "level": level})


def pattern(p: patterns_pb2.Pattern) -> m.Pattern:
    return m.Pattern.model_validate(fields(p))


def skill(s: skills_pb2.Skill) -> m.Skill:
    return m.Skill.model_validate(fields(s))


def validation(v: c.SkillValidation) -> m.SkillValidation:
    return m.SkillValidation(
        skill=v.skill,
        score=v.score,
        passed=v.passed,
        threshold=v.threshold,
        findings=[
            m.Finding(
                skill=f.skill,
                rule=f.rule,
                path=f.path,
                line=f.line,
                message=f.message,
                severity=enum_name(c.Severity, f.severity, "SEVERITY_"),
                fixable=f.fixable,
            )
            for f in v.findings
        ],
    )


def check_result(r: skills_pb2.ValidateResponse) -> m.CheckResult:
    return m.CheckResult(
        passed=r.passed,
        overall_score=r.overall_score,
        results=[validation(v) for v in r.results],
        skipped=[m.SkippedFile(path=s.path, reason=s.reason) for s in r.skipped],
    )


def file(f: c.GeneratedFile) -> m.File:
    return m.File.model_validate(fields(f))


def file_to_pb(f: m.File) -> c.GeneratedFile:
    return c.GeneratedFile(path=f.path, content=f.content, language=f.language)


def review_item(item: pb.ReviewItem) -> m.ReviewItem:
    return m.ReviewItem(
        task=task(item.task),
        reason=item.reason,
        confidence=item.confidence,
        files=[file(f) for f in item.files],
    )
