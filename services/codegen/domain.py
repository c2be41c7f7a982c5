"""What code generation works on and produces, free of protobuf.

The servicer fills a `GenerationRequest` from the orchestrator (task, spec design), the
context service (context text), the patterns service (similar patterns) and the skills
service (guidelines); a `Generator` turns it into files. Both generators (offline pattern
composition, Anthropic) implement the same protocol, so the pipeline around them
(validate, apply standards, repair) is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# Task kinds whose code is derived from the spec's structure (entities, endpoints, stack);
# the rest go to the direct prompt. Routing as in the seeds' HybridCodeGenerator.
STRUCTURED_KINDS = frozenset({"MODEL", "API", "CRUD", "CONFIG", "TEST", "MIGRATION", "DEPLOY"})

# Temperature per attempt (1-based); later attempts reuse the last value.
TEMPERATURE_SCHEDULE = (0.7, 0.5, 0.3)


def temperature_for(attempt: int) -> float:
    return TEMPERATURE_SCHEDULE[min(max(attempt, 1), len(TEMPERATURE_SCHEDULE)) - 1]


@dataclass(frozen=True)
class EntityField:
    name: str
    type: str
    constraints: str = ""


@dataclass(frozen=True)
class Entity:
    name: str
    fields: tuple[EntityField, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    description: str = ""
    entity: str = ""


@dataclass(frozen=True)
class SpecDesign:
    """The parts of a spec that code is generated from."""

    spec_id: str
    title: str
    overview: str = ""
    tech_stack: dict[str, str] = field(default_factory=dict)
    entities: tuple[Entity, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    constraints: tuple[str, ...] = ()
    # In spec order: FR-n is the n-th, as the planner numbers them.
    functional_requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskInfo:
    id: str
    key: str
    kind: str  # TaskKind name without prefix: MODEL, API, CRUD ...
    name: str
    description: str = ""
    acceptance_criteria: tuple[str, ...] = ()
    expected_output: str = ""
    required_skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceFileOut:
    path: str
    content: str
    language: str = ""


@dataclass(frozen=True)
class PatternRef:
    """A stored pattern offered as similar: `score` is the hybrid rank, `similarity` the
    vector similarity alone; `id` is what outcomes are recorded against."""

    name: str
    category: str
    code: str
    score: float = 0.0
    id: str = ""
    similarity: float = 0.0


@dataclass(frozen=True)
class SkillGuide:
    name: str
    guidelines: tuple[str, ...]


@dataclass(frozen=True)
class Feedback:
    """A finding of the previous attempt, fed back into the next one."""

    skill: str
    rule: str
    path: str
    line: int
    message: str


@dataclass(frozen=True)
class GenerationRequest:
    task: TaskInfo
    spec: SpecDesign
    context: str = ""
    patterns: tuple[PatternRef, ...] = ()
    skills: tuple[SkillGuide, ...] = ()
    attempt: int = 1
    feedback: tuple[Feedback, ...] = ()
    previous_error: str = ""


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    model: str = ""


@dataclass(frozen=True)
class Generation:
    files: tuple[SourceFileOut, ...]
    patterns_used: tuple[str, ...]
    generator: str
    temperature: float
    usage: Usage = Usage()
    # Offered patterns (ids) this generation reused; see services/codegen/reuse.py.
    reused_pattern_ids: tuple[str, ...] = ()


class Generator(Protocol):
    """Turns a request into files. Raises domain errors (devmatrix.runtime.errors):
    FailedPrecondition when the spec lacks what the task needs (no entities for a MODEL
    task), Unavailable/ResourceExhausted when a backend fails after its retries, and
    InvalidArgument-free: a malformed model answer is Aborted naming what was wrong."""

    name: str

    async def generate(self, request: GenerationRequest) -> Generation: ...
