"""Wires the context service to the shared server bootstrap: the cache (Redis or in-process),
the clients of orchestrator, patterns and skills, and the domain metrics."""

from __future__ import annotations

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import ServiceApp
from devmatrix.stores.cache import open_cache
from devmatrix.stores.tokens import tokenizer
from devmatrix.v1 import context_pb2, context_pb2_grpc
from services.context.service import ContextMetrics, ContextService
from services.context.servicer import ContextServicer
from services.context.sources import Sources

FULL_NAME = context_pb2.DESCRIPTOR.services_by_name["ContextService"].full_name


async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
    tokenizer()  # loaded once, before the first call, and fails the start if missing
    cache = open_cache(settings)
    sources = Sources(settings)
    service = ContextService(settings, cache, sources, ContextMetrics(registry))

    def register(server: grpc.aio.Server) -> None:
        context_pb2_grpc.add_ContextServiceServicer_to_server(ContextServicer(service), server)

    async def close() -> None:
        await sources.close()
        await cache.close()

    return ServiceApp(
        name="context",
        full_name=FULL_NAME,
        register=register,
        ready=service.ready,
        close=close,
        state=service,
    )
