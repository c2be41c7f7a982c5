"""What code generation asks of the other services, as domain values.

Required: the orchestrator (the task and its spec) and the skills service (the task's
skills, ApplyStandards, Validate): without them nothing trustworthy can be produced, so
their failures are errors. Optional: the context and patterns services; when they fail
the generation goes on without that input and the response's logs say so.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import grpc

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.logging import get_logger
from devmatrix.runtime.upstream import upstream_error
from devmatrix.standards import KIND_CATEGORY
from devmatrix.v1 import (
    common_pb2,
    context_pb2,
    context_pb2_grpc,
    orchestrator_pb2,
    orchestrator_pb2_grpc,
    patterns_pb2,
    patterns_pb2_grpc,
    skills_pb2,
    skills_pb2_grpc,
)
from services.codegen.domain import (
    Endpoint,
    Entity,
    EntityField,
    PatternRef,
    SkillGuide,
    SourceFileOut,
    SpecDesign,
    TaskInfo,
)

log = get_logger("devmatrix.codegen.sources")
T = TypeVar("T")

IDEMPOTENT = (
    *(("devmatrix.v1.OrchestratorService", m) for m in ("GetTask", "GetSpec")),
    ("devmatrix.v1.ContextService", "GetContext"),
    ("devmatrix.v1.PatternsService", "SearchPatterns"),
    *(("devmatrix.v1.SkillsService", m) for m in ("MapTaskToSkills", "ApplyStandards")),
)
KIND_PREFIX = "TASK_KIND_"
SIMILAR_PATTERNS = 3
# Optional inputs may not hold up a generation for long.
OPTIONAL_TIMEOUT_S = 5.0
# The pattern category a task kind's code is stored under; other kinds are not stored.


def task_from_pb(task: common_pb2.Task) -> TaskInfo:
    return TaskInfo(
        id=task.id,
        key=task.key,
        kind=common_pb2.TaskKind.Name(task.kind).removeprefix(KIND_PREFIX),
        name=task.name,
        description=task.description,
        acceptance_criteria=tuple(task.acceptance_criteria),
        expected_output=task.expected_output,
        required_skills=tuple(task.required_skills),
    )


def design_from_pb(got: orchestrator_pb2.GetSpecResponse) -> SpecDesign:
    spec = got.spec
    return SpecDesign(
        spec_id=spec.id,
        title=spec.title,
        overview=spec.overview,
        tech_stack=dict(spec.tech_stack),
        entities=tuple(
            Entity(e.name, tuple(EntityField(f.name, f.type, f.constraints) for f in e.fields), e.description)
            for e in got.entities
        ),
        endpoints=tuple(Endpoint(e.method, e.path, e.description, e.entity) for e in got.endpoints),
        constraints=tuple(spec.constraints),
        functional_requirements=functional_requirements(got.requirements),
    )


def functional_requirements(requirements: Sequence[orchestrator_pb2.Requirement]) -> tuple[str, ...]:
    """The FR-n requirements' texts by n: the Spec message has no such list, but GetSpec
    returns every classified requirement, keyed FR-1, FR-2 ... in spec order."""
    found = []
    for r in requirements:
        number = re.fullmatch(r"FR-(\d+)", r.key)
        if r.category == orchestrator_pb2.REQUIREMENT_CATEGORY_FUNCTIONAL and number:
            found.append((int(number.group(1)), r.text))
    return tuple(text for _, text in sorted(found))


def files_to_pb(files: Sequence[SourceFileOut]) -> list[common_pb2.GeneratedFile]:
    return [common_pb2.GeneratedFile(path=f.path, content=f.content, language=f.language) for f in files]


class Sources:
    def __init__(self, settings: Settings) -> None:
        def channel(name: str) -> grpc.aio.Channel:
            return open_channel(
                settings.addr(name), settings.grpc_deadline_seconds, IDEMPOTENT, settings.max_message_bytes
            )

        self._channels = {n: channel(n) for n in ("orchestrator", "context", "patterns", "skills")}
        self.orchestrator = orchestrator_pb2_grpc.OrchestratorServiceStub(self._channels["orchestrator"])
        self.context = context_pb2_grpc.ContextServiceStub(self._channels["context"])
        self.patterns = patterns_pb2_grpc.PatternsServiceStub(self._channels["patterns"])
        self.skills = skills_pb2_grpc.SkillsServiceStub(self._channels["skills"])

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._channels.values()))

    @staticmethod
    async def _required(call: Awaitable[T], service: str, resource: str = "") -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            raise upstream_error(error, service, resource) from None

    @staticmethod
    async def _optional(call: Awaitable[T], source: str) -> T | None:
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            log.info("optional_source_failed", source=source, grpc_code=error.code().name)
            return None

    async def task_and_spec(self, task_id: str) -> tuple[TaskInfo, SpecDesign]:
        got = await self._required(
            self.orchestrator.GetTask(orchestrator_pb2.GetTaskRequest(task_id=task_id)),
            "orchestrator",
            "task",
        )
        spec = await self._required(
            self.orchestrator.GetSpec(orchestrator_pb2.GetSpecRequest(spec_id=got.task.spec_id)),
            "orchestrator",
            "spec",
        )
        return task_from_pb(got.task), design_from_pb(spec)

    async def context_text(self, task_id: str) -> str:
        got = await self._optional(
            self.context.GetContext(
                context_pb2.GetContextRequest(task_id=task_id, level=context_pb2.CONTEXT_LEVEL_STANDARD),
                timeout=OPTIONAL_TIMEOUT_S,
            ),
            "context",
        )
        return got.text if got else ""

    async def similar_patterns(self, task: TaskInfo, language: str) -> tuple[PatternRef, ...]:
        got = await self._optional(
            self.patterns.SearchPatterns(
                patterns_pb2.SearchPatternsRequest(
                    query=f"{task.name}. {task.description}"[:2000], top_k=SIMILAR_PATTERNS, language=language
                ),
                timeout=OPTIONAL_TIMEOUT_S,
            ),
            "patterns",
        )
        if got is None:
            return ()
        return tuple(
            PatternRef(
                m.pattern.name,
                m.pattern.category,
                m.pattern.code,
                m.hybrid_score,
                id=m.pattern.id,
                similarity=m.similarity,
            )
            for m in got.matches
        )

    async def skills_for(self, task: TaskInfo, files: Sequence[str]) -> tuple[SkillGuide, ...]:
        got = await self._required(
            self.skills.MapTaskToSkills(
                skills_pb2.MapTaskToSkillsRequest(
                    task_id=task.id,
                    kind=common_pb2.TaskKind.Value(KIND_PREFIX + task.kind),
                    name=task.name,
                    description=task.description,
                    files=list(files),
                    required_skills=list(task.required_skills),
                )
            ),
            "skills",
        )
        return tuple(SkillGuide(s.name, tuple(s.guidelines)) for s in got.skills)

    async def apply_standards(
        self, files: Sequence[SourceFileOut], skills: Sequence[str]
    ) -> tuple[list[SourceFileOut], list[str]]:
        got = await self._required(
            self.skills.ApplyStandards(
                skills_pb2.ApplyStandardsRequest(files=files_to_pb(files), skills=skills)
            ),
            "skills",
        )
        return [SourceFileOut(f.path, f.content, f.language) for f in got.files], list(got.fixes_applied)

    async def validate(
        self, files: Sequence[SourceFileOut], skills: Sequence[str], task_id: str
    ) -> skills_pb2.ValidateResponse:
        return await self._required(
            self.skills.Validate(
                skills_pb2.ValidateRequest(files=files_to_pb(files), skills=skills, task_id=task_id)
            ),
            "skills",
        )

    async def record_outcome(
        self, pattern_id: str, task: TaskInfo, success: bool, score: float, request_id: str = ""
    ) -> bool:
        """Count one use of a reused pattern, so its success rate follows how it does.

        Keyed by the GenerateCode request id when the caller sent one: a retried request
        counts once. Optional: False when the patterns service did not take it."""
        key = ""
        if request_id:
            digest = hashlib.sha256(request_id.encode()).hexdigest()[:32]
            key = f"codegen-reuse:{digest}:{pattern_id}"
        got = await self._optional(
            self.patterns.RecordOutcome(
                patterns_pb2.RecordOutcomeRequest(
                    request_id=key,
                    pattern_id=pattern_id,
                    task_id=task.id,
                    success=success,
                    validation_score=min(max(score, 0.0), 1.0),
                ),
                timeout=OPTIONAL_TIMEOUT_S,
            ),
            "patterns",
        )
        return got is not None

    async def store_success(
        self, task: TaskInfo, spec: SpecDesign, file: SourceFileOut, score: float
    ) -> None:
        """Offer a passing file to the pattern store, so what worked is found next time."""
        category = KIND_CATEGORY.get(task.kind)
        if category is None:
            return
        await self._optional(
            self.patterns.StoreSuccessPattern(
                patterns_pb2.StoreSuccessPatternRequest(
                    request_id=f"codegen:{task.id}:{file.path}"[:128],
                    task_id=task.id,
                    spec_id=spec.spec_id,
                    description=f"{task.name}: {file.path}",
                    code=file.content,
                    language=file.language or "python",
                    framework=spec.tech_stack.get("Framework", ""),
                    category=category,
                    validation_score=score,
                ),
                timeout=OPTIONAL_TIMEOUT_S,
            ),
            "patterns",
        )
