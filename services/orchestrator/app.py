"""Wires the orchestrator's servicer to the shared server bootstrap."""

from __future__ import annotations

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import ServiceApp
from devmatrix.v1 import insights_pb2, insights_pb2_grpc, orchestrator_pb2, orchestrator_pb2_grpc
from services.orchestrator.insights.runtime import InsightsRuntime
from services.orchestrator.insights.servicer import InsightsServicer
from services.orchestrator.runtime import OrchestratorRuntime
from services.orchestrator.servicer import OrchestratorServicer

FULL_NAME = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name
INSIGHTS_NAME = insights_pb2.DESCRIPTOR.services_by_name["InsightsService"].full_name


async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
    runtime = await OrchestratorRuntime.open(settings, registry)
    insights = InsightsRuntime.open(runtime, settings, registry)
    insights.start()

    def register(server: grpc.aio.Server) -> None:
        orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server(OrchestratorServicer(runtime), server)
        insights_pb2_grpc.add_InsightsServiceServicer_to_server(InsightsServicer(insights), server)

    async def close() -> None:
        await insights.close()
        await runtime.close()

    async def drain() -> None:
        runtime.events.drain()

    return ServiceApp(
        name="orchestrator",
        full_name=FULL_NAME,
        register=register,
        ready=runtime.ready,
        close=close,
        drain=drain,
        state=runtime,
        also_serves=(INSIGHTS_NAME,),
    )
