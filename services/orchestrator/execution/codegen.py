"""The codegen service as the runner sees it: one GenerateCode call with an explicit
deadline, its answer as plain values, its failure classified as worth retrying or not."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devmatrix.runtime.channels import open_channel
from devmatrix.v1 import codegen_pb2, codegen_pb2_grpc, common_pb2
from services.orchestrator.execution.files import TaskFile

# Transient: the same request may well succeed a moment later. Anything else (a task
# codegen cannot serve, FAILED_PRECONDITION without an LLM key, a bad request) would fail
# the same way again, so retrying it would only waste the attempts and the time.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
SERVICE = codegen_pb2.DESCRIPTOR.services_by_name["CodegenService"].full_name
# codegen refuses attempt numbers above this (services/codegen/servicer.py MAX_ATTEMPT).
MAX_CODEGEN_ATTEMPT = 10
# Findings kept per attempt in the history and fed back; codegen keeps 40 of them anyway.
MAX_FINDINGS = 100


class CodegenFailure(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE


@dataclass
class Generated:
    files: list[TaskFile]
    passed: bool
    confidence: float
    overall_score: float
    generator: str
    temperature: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    findings: list[dict[str, Any]] = field(default_factory=list)
    # Skills whose validation did not reach its threshold, as "skill score<threshold".
    failed_skills: list[str] = field(default_factory=list)
    patterns_used: list[str] = field(default_factory=list)
    reused_pattern_ids: list[str] = field(default_factory=list)


def finding_to_pb(f: dict[str, Any]) -> common_pb2.Finding:
    return common_pb2.Finding(
        skill=str(f.get("skill", "")),
        rule=str(f.get("rule", "")),
        path=str(f.get("path", "")),
        line=int(f.get("line", 0) or 0),
        message=str(f.get("message", "")),
        severity=int(f.get("severity", 0) or 0),  # type: ignore[arg-type]
    )


def generated_from_pb(r: codegen_pb2.GenerateCodeResponse) -> Generated:
    findings = [
        {
            "skill": f.skill or v.skill,
            "rule": f.rule,
            "path": f.path,
            "line": f.line,
            "message": f.message,
            "severity": int(f.severity),
        }
        for v in r.validations
        for f in v.findings
    ]
    return Generated(
        files=[TaskFile(f.path, f.content, f.language) for f in r.files],
        passed=r.passed,
        confidence=r.confidence,
        overall_score=r.overall_score,
        generator=r.generator,
        temperature=r.temperature,
        tokens_in=r.usage.input_tokens,
        tokens_out=r.usage.output_tokens,
        cost_usd=r.usage.cost_usd,
        findings=findings[:MAX_FINDINGS],
        failed_skills=[f"{v.skill} {v.score:.2f}<{v.threshold:.2f}" for v in r.validations if not v.passed],
        patterns_used=list(r.patterns_used),
        reused_pattern_ids=list(r.reused_pattern_ids),
    )


class CodegenClient:
    def __init__(self, address: str, timeout_seconds: float, max_message_bytes: int) -> None:
        # No transparent retries on this channel: the runner retries itself, recording
        # every attempt and feeding its error to the next one.
        self._channel = open_channel(address, timeout_seconds, (), max_message_bytes)
        self._stub = codegen_pb2_grpc.CodegenServiceStub(self._channel)
        self.timeout_seconds = timeout_seconds

    async def generate(
        self, task_id: str, attempt: int, feedback: list[dict[str, Any]], previous_error: str, request_id: str
    ) -> Generated:
        request = codegen_pb2.GenerateCodeRequest(
            request_id=request_id[:128],
            task_id=task_id,
            attempt=min(attempt, MAX_CODEGEN_ATTEMPT),
            feedback=[finding_to_pb(f) for f in feedback[:MAX_FINDINGS]],
            previous_error=previous_error[:4000],
        )
        try:
            response = await self._stub.GenerateCode(request, timeout=self.timeout_seconds)
        except grpc.aio.AioRpcError as error:
            raise CodegenFailure(error.code(), error.details() or "") from None
        return generated_from_pb(response)

    async def wait_ready(self, seconds: float) -> bool:
        """Whether codegen reports SERVING within `seconds` (health checking)."""
        health = health_pb2_grpc.HealthStub(self._channel)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = await health.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE), timeout=min(1.0, left)
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(min(0.25, max(left, 0)))
        return False

    async def close(self) -> None:
        await self._channel.close()
