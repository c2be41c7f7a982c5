"""A service whose RPCs are not built yet: it starts, answers health and reflection, and
every RPC returns UNIMPLEMENTED (the generated base servicer's behaviour)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import AppFactory, ServiceApp


def unimplemented_app(
    name: str, full_name: str, add_to_server: Callable[[object, grpc.aio.Server], None], servicer: type
) -> AppFactory:
    async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
        return ServiceApp(
            name=name, full_name=full_name, register=lambda server: add_to_server(servicer(), server)
        )

    return build
