"""GenerateCode as a sequence: gather inputs, route to a generator, apply standards,
validate, and repair with the findings fed back, up to the configured attempts.

Routing follows the seeds' HybridCodeGenerator: structured kinds (MODEL, API, CRUD ...)
take the structured path, offline pattern composition; generic tasks take the direct
prompt of the Anthropic generator. Offline output is deterministic, so a repair after a
failed offline attempt goes to Anthropic when it is configured, and otherwise stops: the
same input would give the same files.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from devmatrix.runtime.errors import Aborted, FailedPrecondition
from devmatrix.runtime.logging import get_logger
from devmatrix.v1 import skills_pb2
from services.codegen.domain import (
    STRUCTURED_KINDS,
    Feedback,
    Generation,
    GenerationRequest,
    Generator,
    SourceFileOut,
    TaskInfo,
)
from services.codegen.metrics import CodegenMetrics
from services.codegen.reuse import reproduced
from services.codegen.sources import Sources

log = get_logger("devmatrix.codegen")
# Findings fed back into the next attempt; more would crowd out the task itself.
MAX_FEEDBACK = 40
# Each repair attempt costs this share of confidence.
ATTEMPT_DISCOUNT = 0.9


@dataclass(frozen=True)
class Outcome:
    task: TaskInfo
    generation: Generation
    files: tuple[SourceFileOut, ...]
    fixes: tuple[str, ...]
    validation: skills_pb2.ValidateResponse
    skills: tuple[str, ...]
    # The attempt these files come from.
    attempt: int
    confidence: float


def feedback_of(validation: skills_pb2.ValidateResponse) -> tuple[Feedback, ...]:
    found = [
        Feedback(f.skill, f.rule, f.path, f.line, f.message) for r in validation.results for f in r.findings
    ]
    return tuple(found[:MAX_FEEDBACK])


def confidence_of(validation: skills_pb2.ValidateResponse, attempt: int) -> float:
    score = validation.overall_score * ATTEMPT_DISCOUNT ** (attempt - 1)
    return round(score if validation.passed else score / 2, 4)


class Pipeline:
    def __init__(
        self,
        sources: Sources,
        offline: Generator,
        anthropic: Generator | None,
        max_attempts: int,
        metrics: CodegenMetrics,
    ) -> None:
        self.sources, self.offline, self.anthropic = sources, offline, anthropic
        self.max_attempts, self.metrics = max_attempts, metrics

    def route(self, task: TaskInfo, attempt: int, first_attempt: int) -> Generator:
        if task.kind not in STRUCTURED_KINDS and self.anthropic is not None:
            return self.anthropic
        if attempt > first_attempt and self.anthropic is not None:
            return self.anthropic
        return self.offline

    async def gather(self, task_id: str) -> GenerationRequest:
        task, spec = await self.sources.task_and_spec(task_id)
        outputs = [p.strip() for p in task.expected_output.split(",") if p.strip()]
        language = "python" if any(p.endswith(".py") for p in outputs) or not outputs else ""
        skills = await self.sources.skills_for(task, outputs)
        context = await self.sources.context_text(task_id)
        patterns = await self.sources.similar_patterns(task, language)
        return GenerationRequest(task=task, spec=spec, context=context, patterns=patterns, skills=skills)

    async def run(
        self,
        task_id: str,
        attempt: int = 1,
        feedback: tuple[Feedback, ...] = (),
        previous_error: str = "",
        request_id: str = "",
    ) -> Outcome:
        started = time.perf_counter()
        request = await self.gather(task_id)
        first = max(attempt, 1)
        request = replace(request, attempt=first, feedback=feedback, previous_error=previous_error)
        generator_name = self.route(request.task, first, first).name
        try:
            outcome = await self._attempts(request, first)
        except Exception:
            self.metrics.generations.labels(generator_name, request.task.kind, "error").inc()
            raise
        kind = request.task.kind
        self.metrics.generations.labels(
            outcome.generation.generator, kind, "passed" if outcome.validation.passed else "failed"
        ).inc()
        self.metrics.seconds.labels(outcome.generation.generator, kind).observe(time.perf_counter() - started)
        self.metrics.score.labels(kind).observe(outcome.validation.overall_score)
        outcome = self._with_reproduced(outcome, request)
        await self._record_reuse(outcome, request_id)
        python = [f for f in outcome.files if f.path.endswith(".py")]
        if outcome.validation.passed and python:
            await self.sources.store_success(request.task, request.spec, python[0], outcome.confidence)
        return outcome

    def _with_reproduced(self, outcome: Outcome, request: GenerationRequest) -> Outcome:
        """Offline files count as reproduced after standards too: ApplyStandards formats them
        with the mesh's settings, and that is the code store_success keeps."""
        generation = outcome.generation
        if generation.generator != self.offline.name:
            return outcome
        reused = tuple(
            dict.fromkeys((*generation.reused_pattern_ids, *reproduced(request.patterns, outcome.files)))
        )
        return replace(outcome, generation=replace(generation, reused_pattern_ids=reused))

    async def _record_reuse(self, outcome: Outcome, request_id: str) -> None:
        """Each reused pattern's outcome is this validation's: how the code built on it did."""
        reused = outcome.generation.reused_pattern_ids
        if not reused:
            return
        passed, score = outcome.validation.passed, outcome.validation.overall_score
        recorded = await asyncio.gather(
            *(self.sources.record_outcome(p, outcome.task, passed, score, request_id) for p in reused)
        )
        log.info(
            "patterns_reused",
            task_id=outcome.task.id,
            pattern_ids=list(reused),
            success=passed,
            recorded=sum(recorded),
        )

    async def _generate(self, generator: Generator, request: GenerationRequest) -> Generation:
        """One attempt; a task the offline generator cannot serve (an entity the spec lacks,
        an endpoint of no known shape) goes to Anthropic when it is configured."""
        try:
            return await generator.generate(request)
        except FailedPrecondition:
            if generator is not self.offline or self.anthropic is None:
                raise
            self.metrics.attempts.labels(self.anthropic.name).inc()
            return await self.anthropic.generate(request)

    async def _attempts(self, request: GenerationRequest, first: int) -> Outcome:
        skills = tuple(s.name for s in request.skills)
        best: Outcome | None = None
        last_error = ""
        attempt = first
        while attempt <= max(self.max_attempts, first):
            generator = self.route(request.task, attempt, first)
            if attempt > first and generator is self.offline:
                break  # the same input would give the same files
            self.metrics.attempts.labels(generator.name).inc()
            try:
                generation = await self._generate(generator, replace(request, attempt=attempt))
            except Aborted as malformed:
                last_error = malformed.message
                log.info("generation_malformed", task_id=request.task.id, attempt=attempt, error=last_error)
                request = replace(request, previous_error=last_error, feedback=())
                attempt += 1
                continue
            # Validated against every skill with checks for the files, not only the task's:
            # a bare except in a docs task's helper is still a bare except.
            files, fixes = await self.sources.apply_standards(generation.files, ())
            validation = await self.sources.validate(files, (), request.task.id)
            outcome = Outcome(
                request.task,
                generation,
                tuple(files),
                tuple(fixes),
                validation,
                skills,
                attempt,
                confidence_of(validation, attempt),
            )
            if best is None or validation.overall_score > best.validation.overall_score:
                best = outcome
            if validation.passed:
                break
            request = replace(request, feedback=feedback_of(validation), previous_error="")
            attempt += 1
        if best is None:
            raise Aborted(
                f"task {request.task.key}: no usable answer in {attempt - first} attempts: {last_error}"
            )
        return best
