"""The gateway's gRPC clients: one channel per service address, opened when the app
starts and closed when it stops. Every call carries the request id (the shared channel
interceptor reads `current_request_id`) and a deadline; a failed call raises
UpstreamError naming the service, which the error handlers turn into a problem."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.v1 import (
    context_pb2_grpc,
    insights_pb2_grpc,
    orchestrator_pb2_grpc,
    patterns_pb2_grpc,
    skills_pb2_grpc,
)
from gateway.errors import UpstreamError

SERVICES = ("orchestrator", "context", "patterns", "skills")
FULL_NAMES = {name: f"devmatrix.v1.{name.capitalize()}Service" for name in SERVICES}
# Reads the channels may retry when a replica is briefly unavailable.
IDEMPOTENT: dict[str, tuple[tuple[str, str], ...]] = {
    "orchestrator": (
        *(
            (FULL_NAMES["orchestrator"], m)
            for m in (
                "GetSpec",
                "ListSpecs",
                "GetTaskTree",
                "GetTask",
                "GetProgress",
                "GetExecution",
                "ListReviewQueue",
                "AnalyzeDependencies",
            )
        ),
        *(("devmatrix.v1.InsightsService", m) for m in ("GetSpecProgress", "GetWaveStatus")),
    ),
    "context": ((FULL_NAMES["context"], "GetContext"),),
    "patterns": ((FULL_NAMES["patterns"], "SearchPatterns"),),
    "skills": ((FULL_NAMES["skills"], "ListSkills"),),
}
HEALTH_TIMEOUT_SECONDS = 1.0


class ServiceClient:
    """A generated stub whose unary calls raise UpstreamError(service, error)."""

    def __init__(self, service: str, stub: Any) -> None:
        self.service, self.stub = service, stub

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        rpc = getattr(self.stub, method)

        async def call(request: Any, *, deadline: float | None = None) -> Any:
            try:
                return await rpc(request, timeout=deadline)
            except grpc.aio.AioRpcError as error:
                raise UpstreamError(self.service, error) from None

        return call


@dataclasses.dataclass
class Clients:
    orchestrator: ServiceClient
    # InsightsService is served by the orchestrator process, on the same channel.
    insights: ServiceClient
    context: ServiceClient
    patterns: ServiceClient
    skills: ServiceClient
    channels: dict[str, grpc.aio.Channel]

    async def health(self) -> dict[str, str]:
        """Each service's readiness as grpc health reports it (UNREACHABLE when it does not answer)."""

        async def check(name: str) -> str:
            stub = health_pb2_grpc.HealthStub(self.channels[name])
            try:
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service=FULL_NAMES[name]), timeout=HEALTH_TIMEOUT_SECONDS
                )
            except grpc.aio.AioRpcError:
                return "UNREACHABLE"
            return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

        states = await asyncio.gather(*(check(name) for name in SERVICES))
        return dict(zip(SERVICES, states, strict=True))

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self.channels.values()))


def open_clients(settings: Settings) -> Clients:
    channels = {
        name: open_channel(
            settings.addr(name),
            settings.grpc_deadline_seconds,
            IDEMPOTENT.get(name, ()),
            settings.max_message_bytes,
        )
        for name in SERVICES
    }
    return Clients(
        orchestrator=ServiceClient(
            "orchestrator", orchestrator_pb2_grpc.OrchestratorServiceStub(channels["orchestrator"])
        ),
        insights=ServiceClient(
            "orchestrator", insights_pb2_grpc.InsightsServiceStub(channels["orchestrator"])
        ),
        context=ServiceClient("context", context_pb2_grpc.ContextServiceStub(channels["context"])),
        patterns=ServiceClient("patterns", patterns_pb2_grpc.PatternsServiceStub(channels["patterns"])),
        skills=ServiceClient("skills", skills_pb2_grpc.SkillsServiceStub(channels["skills"])),
        channels=channels,
    )
