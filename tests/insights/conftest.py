"""The orchestrator served for real with its InsightsService, on a fresh database; rows of
the execution tables written directly, as the execution engine would write them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest_asyncio

from devmatrix.cli.mesh import free_port
from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import insights_pb2_grpc, orchestrator_pb2_grpc
from services.orchestrator.app import build
from tests.fixtures.mesh import settings_for


@dataclasses.dataclass
class Served:
    server: RunningServer
    orchestrator: orchestrator_pb2_grpc.OrchestratorServiceStub
    insights: insights_pb2_grpc.InsightsServiceStub
    database_url: str

    def connect(self) -> psycopg.AsyncConnection:
        return psycopg.AsyncConnection.connect(self.database_url, autocommit=True)


async def serve(database_url: str, tmp_path: Path, **overrides: object) -> AsyncIterator[Served]:
    # Nothing listens on the pattern store's port unless a test starts one there.
    overrides.setdefault("addrs", {"patterns": f"127.0.0.1:{free_port()}"})
    settings = settings_for(database_url, tmp_path, **overrides)
    server = await start_server(build, settings, "orchestrator", port=0, metrics_port=0)
    channel = open_channel(server.address, 30.0)
    try:
        yield Served(
            server,
            orchestrator_pb2_grpc.OrchestratorServiceStub(channel),
            insights_pb2_grpc.InsightsServiceStub(channel),
            database_url,
        )
    finally:
        await channel.close()
        await server.stop(0)


@pytest_asyncio.fixture(loop_scope="session")
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async for s in serve(database_url, tmp_path):
        yield s
