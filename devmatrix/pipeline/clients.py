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
