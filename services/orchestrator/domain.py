"""Domain model of the orchestrator: what a parsed spec and a task plan are.

Plain dataclasses shared by the spec parser, the planner, the repository and the
servicer; nothing here knows about protobuf or SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class TaskType(enum.StrEnum):
    PHASE = "PHASE"
    TASK_GROUP = "TASK_GROUP"
    TASK = "TASK"
    SUBTASK = "SUBTASK"


class TaskStatus(enum.StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    BLOCKED = "BLOCKED"
    SKIPPED = "SKIPPED"
    NEEDS_REVIEW = "NEEDS_REVIEW"


class TaskKind(enum.StrEnum):
    API = "API"
    MODEL = "MODEL"
    CRUD = "CRUD"
    UI = "UI"
    TEST = "TEST"
    CONFIG = "CONFIG"
    DOCS = "DOCS"
    GENERIC = "GENERIC"
    MIGRATION = "MIGRATION"
    DEPLOY = "DEPLOY"


class RequirementCategory(enum.StrEnum):
    FUNCTIONAL = "FUNCTIONAL"
    ENTITY = "ENTITY"
    ENDPOINT = "ENDPOINT"
    CONSTRAINT = "CONSTRAINT"
    TECH_STACK = "TECH_STACK"
    NON_FUNCTIONAL = "NON_FUNCTIONAL"
    OTHER = "OTHER"


PHASE_NAMES: dict[int, str] = {
    1: "Planning & Analysis",
    2: "Design & Architecture",
    3: "Implementation",
    4: "Testing & Validation",
    5: "Deployment & Documentation",
}


@dataclass
class EntityField:
    name: str
    type: str
    constraints: str = ""


@dataclass
class Entity:
    name: str
    fields: list[EntityField] = field(default_factory=list)
    description: str = ""


@dataclass
class Endpoint:
    method: str
    path: str
    description: str = ""
    # Entity the endpoint works on, when it can be told from the path.
    entity: str | None = None


@dataclass
class Requirement:
    key: str
    category: RequirementCategory
    text: str
    priority: int = 2  # 1 high, 2 medium, 3 low


@dataclass
class ParsedSpec:
    title: str
    overview: str = ""
    tech_stack: dict[str, str] = field(default_factory=dict)
    entities: list[Entity] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    functional_requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    # Sections the parser does not interpret, kept verbatim by heading.
    other_sections: dict[str, str] = field(default_factory=dict)


@dataclass
class PlannedTask:
    """One node of the hierarchy before it is stored; `key` is unique in the plan."""

    key: str
    type: TaskType
    name: str
    parent: str | None = None
    description: str = ""
    phase: int = 0
    effort: int = 1
    priority: int = 2
    kind: TaskKind = TaskKind.GENERIC
    acceptance_criteria: list[str] = field(default_factory=list)
    expected_output: str = ""
    skills: list[str] = field(default_factory=list)
    # Keys of tasks (at any level) this one depends on.
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Plan:
    spec: ParsedSpec
    requirements: list[Requirement]
    tasks: list[PlannedTask]
