"""CodegenService: protobuf in, the generation pipeline, protobuf out."""

from __future__ import annotations

from typing import Any

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from devmatrix.v1 import codegen_pb2 as pb
from devmatrix.v1 import codegen_pb2_grpc, common_pb2
from services.codegen.domain import Feedback, Usage
from services.codegen.pipeline import Pipeline
from services.codegen.sources import files_to_pb

# More than this many attempts in one request is a caller's loop gone wrong.
MAX_ATTEMPT = 10


def usage_to_pb(u: Usage) -> common_pb2.TokenUsage:
    return common_pb2.TokenUsage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cost_usd=u.cost_usd,
        model=u.model,
    )


def check_request(request: pb.GenerateCodeRequest) -> None:
    if not request.task_id.strip():
        raise InvalidArgument("task_id is required", [FieldViolation("task_id", "must not be empty")])
    if not 0 <= request.attempt <= MAX_ATTEMPT:
        problem = f"must be from 1 to {MAX_ATTEMPT} (0 means 1), not {request.attempt}"
        raise InvalidArgument(f"attempt {problem}", [FieldViolation("attempt", problem)])


class CodegenServicer(codegen_pb2_grpc.CodegenServiceServicer):
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def GenerateCode(self, request: pb.GenerateCodeRequest, context: Any) -> pb.GenerateCodeResponse:
        check_request(request)
        feedback = tuple(Feedback(f.skill, f.rule, f.path, f.line, f.message) for f in request.feedback)
        outcome = await self.pipeline.run(
            request.task_id.strip(),
            request.attempt or 1,
            feedback,
            request.previous_error,
            request.request_id,
        )
        generation = outcome.generation
        return pb.GenerateCodeResponse(
            task_id=outcome.task.id,
            files=files_to_pb(outcome.files),
            patterns_used=list(generation.patterns_used),
            skills_applied=list(outcome.skills),
            validations=list(outcome.validation.results),
            confidence=outcome.confidence,
            generator=generation.generator,
            temperature=generation.temperature,
            usage=usage_to_pb(generation.usage),
            attempt=outcome.attempt,
            fixes_applied=list(outcome.fixes),
            passed=outcome.validation.passed,
            overall_score=outcome.validation.overall_score,
            reused_pattern_ids=list(generation.reused_pattern_ids),
        )
