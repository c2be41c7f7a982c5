"""A codegen server speaking the real gRPC contract with scripted outcomes per task, so the
orchestrator's runner is tested against every answer codegen can give (the real codegen
needs the whole mesh; one end-to-end test uses it)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import (
    Aborted,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)
from devmatrix.runtime.server import AppFactory, ServiceApp
from devmatrix.v1 import codegen_pb2 as pb
from devmatrix.v1 import codegen_pb2_grpc, common_pb2

ERRORS: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
}


@dataclasses.dataclass(frozen=True)
class Step:
    """One scripted answer: after `delay` seconds, an error `code` or generated files."""

    code: grpc.StatusCode | None = None
    message: str = ""
    confidence: float = 0.9
    passed: bool = True
    delay: float = 0.0
    files: int = 1


def ok(confidence: float = 0.9, passed: bool = True, delay: float = 0.0, files: int = 1) -> Step:
    return Step(confidence=confidence, passed=passed, delay=delay, files=files)


def fail(code: grpc.StatusCode, message: str = "scripted failure", delay: float = 0.0) -> Step:
    return Step(code=code, message=message, delay=delay)


@dataclasses.dataclass
class Call:
    task_id: str
    attempt: int
    previous_error: str
    feedback: list[str]


class FakeCodegen(codegen_pb2_grpc.CodegenServiceServicer):
    def __init__(self) -> None:
        self.scripts: dict[str, list[Step]] = {}
        self.default = ok()
        self.calls: list[Call] = []
        # Calls answered (not cancelled by the caller), by task id.
        self.answered: dict[str, int] = {}
        self.running = 0
        self.max_running = 0

    def script(self, task_id: str, *steps: Step) -> None:
        """The task's answers in order; the last one repeats."""
        self.scripts[task_id] = list(steps)

    def calls_for(self, task_id: str) -> list[Call]:
        return [c for c in self.calls if c.task_id == task_id]

    def _next(self, task_id: str) -> Step:
        steps = self.scripts.get(task_id)
        if not steps:
            return self.default
        return steps.pop(0) if len(steps) > 1 else steps[0]

    async def GenerateCode(self, request: pb.GenerateCodeRequest, context: Any) -> pb.GenerateCodeResponse:
        self.calls.append(
            Call(
                request.task_id,
                request.attempt,
                request.previous_error,
                [f"{f.rule}: {f.message}" for f in request.feedback],
            )
        )
        step = self._next(request.task_id)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if step.delay:
                await asyncio.sleep(step.delay)
        finally:
            self.running -= 1
        if step.code is not None:
            raise ERRORS[step.code](f"{step.message} (attempt {request.attempt})")
        self.answered[request.task_id] = self.answered.get(request.task_id, 0) + 1
        findings = (
            []
            if step.passed
            else [
                common_pb2.Finding(
                    skill="global-coding-style",
                    rule="E501",
                    path="app/module.py",
                    line=3,
                    message="line too long",
                    severity=common_pb2.SEVERITY_ERROR,
                )
            ]
        )
        return pb.GenerateCodeResponse(
            task_id=request.task_id,
            files=[
                common_pb2.GeneratedFile(
                    path=f"app/t_{request.task_id[:8]}_{i}.py",
                    content=f'"""Task {request.task_id}, attempt {request.attempt}."""\n',
                    language="python",
                )
                for i in range(step.files)
            ],
            patterns_used=["fake-pattern"],
            skills_applied=["global-coding-style"],
            validations=[
                common_pb2.SkillValidation(
                    skill="global-coding-style",
                    score=0.95 if step.passed else 0.4,
                    passed=step.passed,
                    threshold=0.7,
                    findings=findings,
                )
            ],
            confidence=step.confidence,
            generator="fake",
            temperature=0.7,
            usage=common_pb2.TokenUsage(input_tokens=100, output_tokens=40, cost_usd=0.002, model="fake"),
            attempt=request.attempt,
            passed=step.passed,
            overall_score=0.95 if step.passed else 0.4,
        )


def fake_codegen_app(servicer: FakeCodegen) -> AppFactory:
    async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
        def register(server: grpc.aio.Server) -> None:
            codegen_pb2_grpc.add_CodegenServiceServicer_to_server(servicer, server)

        return ServiceApp("codegen", "devmatrix.v1.CodegenService", register)

    return build
