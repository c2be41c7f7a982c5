"""Wires the patterns servicer to the shared server bootstrap.

Start-up loads the embedding model (seconds: torch import and weights), opens the
Qdrant collections and loads the golden library (services/patterns/library, or the
directory in PATTERN_LIBRARY_DIR); a malformed library file refuses the start with
InvalidArgument naming the file and field.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import AppFactory, ServiceApp
from devmatrix.v1 import patterns_pb2, patterns_pb2_grpc
from services.patterns.runtime import DEFAULT_LIBRARY, PatternsRuntime
from services.patterns.servicer import PatternsServicer

FULL_NAME = patterns_pb2.DESCRIPTOR.services_by_name["PatternsService"].full_name


def make_build(library_dir: Path | None = None) -> AppFactory:
    """An app factory loading the golden library from `library_dir`; None takes
    settings.pattern_library_dir (PATTERN_LIBRARY_DIR), else services/patterns/library."""

    async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
        runtime = await PatternsRuntime.open(
            settings, registry, library_dir or settings.pattern_library_dir or DEFAULT_LIBRARY
        )

        def register(server: grpc.aio.Server) -> None:
            patterns_pb2_grpc.add_PatternsServiceServicer_to_server(PatternsServicer(runtime), server)

        return ServiceApp(
            name="patterns",
            full_name=FULL_NAME,
            register=register,
            ready=runtime.ready,
            close=runtime.close,
            state=runtime,
        )

    return build


build = make_build()
