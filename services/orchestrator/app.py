"""Wires the orchestrator's servicer to the shared server bootstrap."""

from __future__ import annotations

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import ServiceApp
from devmatrix.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from services.orchestrator.runtime import OrchestratorRuntime
from services.orchestrator.servicer import OrchestratorServicer

FULL_NAME = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name


async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
    runtime = await OrchestratorRuntime.open(settings, registry)

    def register(server: grpc.aio.Server) -> None:
        orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server(OrchestratorServicer(runtime), server)

    async def drain() -> None:
        runtime.events.drain()

    return ServiceApp(
        name="orchestrator",
        full_name=FULL_NAME,
        register=register,
        ready=runtime.ready,
        close=runtime.close,
        drain=drain,
        state=runtime,
    )
