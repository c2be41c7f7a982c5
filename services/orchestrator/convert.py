"""Protobuf <-> domain translation for the orchestrator servicer."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from devmatrix.v1 import common_pb2
from devmatrix.v1 import orchestrator_pb2 as pb
from services.orchestrator.analysis import Analysis
from services.orchestrator.domain import TaskStatus, TaskType
from services.orchestrator.progress import Counts, Progress
from services.orchestrator.records import AuditRecord, ReportRecord, RequirementRecord, SpecRecord, TaskRecord

MAX_PAGE_SIZE = 2000
DEFAULT_PAGE_SIZE = 500


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def task_to_pb(task: TaskRecord) -> common_pb2.Task:
    return common_pb2.Task(
        id=task.id,
        spec_id=task.spec_id,
        parent_id=task.parent_id or "",
        key=task.key,
        type=common_pb2.TaskType.Value(f"TASK_TYPE_{task.task_type}"),
        name=task.name,
        description=task.description,
        status=status_to_pb(task.status),
        effort=task.effort,
        assigned_to=task.assigned_to or "",
        phase=task.phase,
        priority=task.priority,
        kind=common_pb2.TaskKind.Value(f"TASK_KIND_{task.kind}"),
        acceptance_criteria=task.acceptance_criteria,
        expected_output=task.expected_output,
        required_skills=task.required_skills,
        depends_on=task.depends_on,
        wave=-1 if task.wave is None else task.wave,
        position=task.position,
        version=task.version,
        created_at=timestamp(task.created_at),
        updated_at=timestamp(task.updated_at),
    )


def spec_to_pb(spec: SpecRecord) -> pb.Spec:
    content: dict[str, Any] = spec.content
    return pb.Spec(
        id=spec.id,
        name=spec.name,
        title=spec.title,
        format=pb.SpecFormat.Value(f"SPEC_FORMAT_{spec.format}"),
        status=pb.SpecStatus.Value(f"SPEC_STATUS_{spec.status}"),
        overview=content.get("overview", ""),
        tech_stack={str(k): str(v) for k, v in (content.get("tech_stack") or {}).items()},
        constraints=[str(c) for c in content.get("constraints") or []],
        task_count=spec.task_count,
        created_at=timestamp(spec.created_at),
        updated_at=timestamp(spec.updated_at),
    )


def design_to_pb(spec: SpecRecord) -> tuple[list[pb.Entity], list[pb.Endpoint]]:
    """The spec's entities and endpoints as parsed at ingestion (a JSON plan may have none)."""
    content: dict[str, Any] = spec.content
    entities = [
        pb.Entity(
            name=str(e.get("name", "")),
            description=str(e.get("description", "")),
            fields=[
                pb.EntityField(
                    name=str(f.get("name", "")),
                    type=str(f.get("type", "")),
                    constraints=str(f.get("constraints", "")),
                )
                for f in e.get("fields") or []
            ],
        )
        for e in content.get("entities") or []
    ]
    endpoints = [
        pb.Endpoint(
            method=str(e.get("method", "")),
            path=str(e.get("path", "")),
            description=str(e.get("description", "")),
            entity=str(e.get("entity") or ""),
        )
        for e in content.get("endpoints") or []
    ]
    return entities, endpoints


def requirement_to_pb(r: RequirementRecord) -> pb.Requirement:
    return pb.Requirement(
        id=r.id,
        key=r.key,
        category=pb.RequirementCategory.Value(f"REQUIREMENT_CATEGORY_{r.category}"),
        text=r.text,
        priority=r.priority,
    )


def status_from_pb(value: int, field: str = "status") -> TaskStatus:
    name = common_pb2.TaskStatus.Name(value) if value in common_pb2.TaskStatus.values() else ""
    if not name or value == common_pb2.TASK_STATUS_UNSPECIFIED:
        raise InvalidArgument(
            f"{field}: {value} is not a task status",
            [FieldViolation(field, "one of " + ", ".join(s.value for s in TaskStatus))],
        )
    return TaskStatus(name.removeprefix("TASK_STATUS_"))


def status_to_pb(status: str) -> int:
    return common_pb2.TaskStatus.Value(f"TASK_STATUS_{status}")


def optional_status(value: int) -> str | None:
    return None if value == common_pb2.TASK_STATUS_UNSPECIFIED else status_from_pb(value).value


def optional_type(value: int) -> str | None:
    if value == common_pb2.TASK_TYPE_UNSPECIFIED:
        return None
    if value not in common_pb2.TaskType.values():
        raise InvalidArgument(
            f"type: {value} is not a task type", [FieldViolation("type", "unknown task type")]
        )
    return TaskType(common_pb2.TaskType.Name(value).removeprefix("TASK_TYPE_")).value


def page_size(value: int, field: str = "page_size") -> int:
    if value < 0:
        raise InvalidArgument(f"{field} must not be negative", [FieldViolation(field, "must be >= 0")])
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_token(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(p) for p in parts).encode()).decode()


def decode_token(token: str, parts: int, field: str = "page_token") -> list[str]:
    try:
        values = base64.urlsafe_b64decode(token.encode()).decode().split("|")
    except Exception:
        values = []
    if len(values) != parts:
        raise InvalidArgument(
            f"{field} is not a token this server issued", [FieldViolation(field, "malformed")]
        )
    return values


def counts_to_pb(c: Counts) -> pb.ProgressCounts:
    s = c.by_status
    return pb.ProgressCounts(
        total=c.total,
        pending=s["PENDING"],
        ready=s["READY"],
        running=s["RUNNING"],
        completed=s["COMPLETED"],
        failed=s["FAILED"],
        blocked=s["BLOCKED"],
        skipped=s["SKIPPED"],
        needs_review=s["NEEDS_REVIEW"],
        percent_complete=c.percent_complete,
        effort_total=c.effort_total,
        effort_completed=c.effort_completed,
    )


def progress_to_pb(p: Progress) -> pb.GetProgressResponse:
    return pb.GetProgressResponse(
        spec_id=p.spec_id,
        spec_status=pb.SpecStatus.Value(f"SPEC_STATUS_{p.spec_status}"),
        overall=counts_to_pb(p.overall),
        phases=[
            pb.PhaseProgress(phase=n, name=Progress.phase_name(n), counts=counts_to_pb(c))
            for n, c in sorted(p.phases.items())
        ],
        waves=[pb.WaveProgress(wave=n, counts=counts_to_pb(c)) for n, c in sorted(p.waves.items())],
        agents=[pb.AgentProgress(agent=a, counts=counts_to_pb(c)) for a, c in sorted(p.agents.items())],
        current_wave=p.current_wave,
    )


def analysis_to_pb(a: Analysis) -> pb.AnalyzeDependenciesResponse:
    return pb.AnalyzeDependenciesResponse(
        waves=[pb.Wave(number=w.number, task_ids=w.task_ids, total_effort=w.total_effort) for w in a.waves],
        critical_path=a.critical_path,
        critical_path_effort=a.critical_path_effort,
        total_effort=a.total_effort,
        max_width=a.max_width,
        average_width=a.average_width,
        ideal_speedup=a.ideal_speedup,
        ready_task_ids=a.ready_task_ids,
        task_count=a.task_count,
    )


def event_to_pb(event: dict[str, Any]) -> pb.TaskEvent:
    at = Timestamp()
    at.FromDatetime(datetime.fromisoformat(event["at"]))
    return pb.TaskEvent(
        spec_id=event["spec_id"],
        task_id=event["task_id"],
        task_key=event["task_key"],
        previous_status=status_to_pb(event["previous_status"]),
        status=status_to_pb(event["status"]),
        reason=event["reason"],
        actor=event["actor"],
        at=at,
    )


def audit_to_pb(a: AuditRecord) -> pb.AuditEntry:
    return pb.AuditEntry(
        id=a.id,
        entity_type=a.entity_type,
        entity_id=a.entity_id,
        action=a.action,
        changes_json=json.dumps(a.changes, sort_keys=True),
        user_id=a.user_id,
        request_id=a.request_id or "",
        at=timestamp(a.timestamp),
    )


def report_to_pb(r: ReportRecord) -> pb.Report:
    return pb.Report(
        id=r.id,
        task_id=r.task_id,
        type=pb.ReportType.Value(f"REPORT_TYPE_{r.report_type}"),
        content_json=json.dumps(r.content, sort_keys=True),
        created_at=timestamp(r.created_at),
    )
