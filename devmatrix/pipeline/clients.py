"""The stubs a run talks to."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from devmatrix.v1 import (
    codegen_pb2_grpc,
    insights_pb2_grpc,
    orchestrator_pb2_grpc,
    patterns_pb2_grpc,
    skills_pb2_grpc,
)
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb

SERVICES = ("orchestrator", "codegen", "skills", "patterns")


@dataclass
class Clients:
    orchestrator: orchestrator_pb2_grpc.OrchestratorServiceStub
    insights: insights_pb2_grpc.InsightsServiceStub
    codegen: codegen_pb2_grpc.CodegenServiceStub
    skills: skills_pb2_grpc.SkillsServiceStub
    patterns: patterns_pb2_grpc.PatternsServiceStub
    # Deadline of one GenerateCode call (every attempt and retry).
    generation_deadline: float

    @classmethod
    def of(cls, channels: dict[str, grpc.aio.Channel], generation_deadline: float) -> Clients:
        return cls(
            orchestrator=orchestrator_pb2_grpc.OrchestratorServiceStub(channels["orchestrator"]),
            # InsightsService is served by the orchestrator's process.
            insights=insights_pb2_grpc.InsightsServiceStub(channels["orchestrator"]),
            codegen=codegen_pb2_grpc.CodegenServiceStub(channels["codegen"]),
            skills=skills_pb2_grpc.SkillsServiceStub(channels["skills"]),
            patterns=patterns_pb2_grpc.PatternsServiceStub(channels["patterns"]),
            generation_deadline=generation_deadline,
        )


async def all_tasks(
    orchestrator: orchestrator_pb2_grpc.OrchestratorServiceStub,
    spec_id: str,
    task_type: int = c.TASK_TYPE_UNSPECIFIED,
) -> list[c.Task]:
    """Every task of the spec (of one type, if given), page by page."""
    tasks: list[c.Task] = []
    token = ""
    while True:
        page = await orchestrator.GetTaskTree(
            pb.GetTaskTreeRequest(spec_id=spec_id, page_size=2000, page_token=token, type=task_type)
        )
        tasks.extend(page.tasks)
        token = page.next_page_token
        if not token:
            return tasks
