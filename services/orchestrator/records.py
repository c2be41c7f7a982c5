"""Rows of the orchestrator's tables as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class SpecRecord:
    id: str
    name: str
    title: str
    format: str
    status: str
    content: dict[str, Any]
    task_count: int = 0
    analysis: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class RequirementRecord:
    id: str
    key: str
    category: str
    text: str
    priority: int


@dataclass
class TaskRecord:
    id: str
    spec_id: str
    parent_id: str | None
    key: str
    task_type: str
    name: str
    description: str
    status: str
    effort: int
    assigned_to: str | None
    phase: int
    priority: int
    kind: str
    acceptance_criteria: list[str]
    expected_output: str
    required_skills: list[str]
    # Ids this task waits for: expanded edges for TASKs, declared ones for other levels.
    depends_on: list[str] = field(default_factory=list)
    wave: int | None = None
    position: int = 0
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class AuditRecord:
    id: str
    entity_type: str
    entity_id: str
    action: str
    changes: dict[str, Any]
    user_id: str
    request_id: str | None
    timestamp: datetime


@dataclass
class ReportRecord:
    id: str
    task_id: str
    report_type: str
    content: dict[str, Any]
    created_at: datetime
