"""Wires the codegen servicer to the shared server bootstrap: clients of the orchestrator,
context, patterns and skills services, the offline generator, and the Anthropic
generator when ANTHROPIC_API_KEY is set."""

from __future__ import annotations

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.logging import get_logger
from devmatrix.runtime.server import ServiceApp
from devmatrix.v1 import codegen_pb2, codegen_pb2_grpc
from services.codegen.anthropic_generator import AnthropicGenerator
from services.codegen.metrics import CodegenMetrics
from services.codegen.offline import OfflineGenerator
from services.codegen.pipeline import Pipeline
from services.codegen.servicer import CodegenServicer
from services.codegen.sources import Sources

FULL_NAME = codegen_pb2.DESCRIPTOR.services_by_name["CodegenService"].full_name
log = get_logger("devmatrix.codegen")


async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
    metrics = CodegenMetrics(registry)
    sources = Sources(settings)
    anthropic = AnthropicGenerator(settings, recorder=metrics) if settings.anthropic_api_key else None
    log.info("generators", offline=True, anthropic=settings.anthropic_model if anthropic else None)
    pipeline = Pipeline(sources, OfflineGenerator(), anthropic, settings.codegen_max_attempts, metrics)

    def register(server: grpc.aio.Server) -> None:
        codegen_pb2_grpc.add_CodegenServiceServicer_to_server(CodegenServicer(pipeline), server)

    async def close() -> None:
        await sources.close()
        if anthropic is not None:
            await anthropic.aclose()

    return ServiceApp(name="codegen", full_name=FULL_NAME, register=register, close=close, state=pipeline)
