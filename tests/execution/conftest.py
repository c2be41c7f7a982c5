"""An orchestrator on a real PostgreSQL, served over real gRPC, told the address of a
scripted codegen server (tests/execution/fake_codegen.py); more orchestrators (replicas,
restarts) on the same database on demand."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from services.orchestrator.app import build
from services.orchestrator.runtime import OrchestratorRuntime
from tests.execution import checks
from tests.execution.fake_codegen import FakeCodegen, fake_codegen_app
from tests.fixtures.mesh import settings_for

# Short enough that a test sees leases expire and retries happen, long enough that a busy
# machine does not lose a lease between two heartbeats.
TEST_SETTINGS: dict[str, Any] = {
    "lease_seconds": 3.0,
    "task_retry_backoff_seconds": 0.01,
    "task_timeout_seconds": 10.0,
    "execution_concurrency": 4,
}
FINISHED = (pb.EXECUTION_STATUS_COMPLETED, pb.EXECUTION_STATUS_FAILED, pb.EXECUTION_STATUS_CANCELLED)


@dataclasses.dataclass
class Node:
    """One orchestrator replica."""

    server: RunningServer
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub
    settings: Settings

    @property
    def rt(self) -> OrchestratorRuntime:
        return self.server.app.state  # type: ignore[return-value]

    def metric(self, name: str, **labels: str) -> float:
        return self.rt.registry.get_sample_value(name, labels or None) or 0.0


@dataclasses.dataclass
class Cluster:
    database_url: str
    codegen: FakeCodegen
    codegen_server: RunningServer
    node: Node
    start_node: Callable[..., Awaitable[Node]]
    # Stop a node as a killed process would (leases held, executions RUNNING).
    crash: Callable[[Node], Awaitable[None]]

    @property
    def stub(self) -> orchestrator_pb2_grpc.OrchestratorServiceStub:
        return self.node.stub

    async def create(self, plan_json: str) -> str:
        created = await self.stub.CreateSpec(pb.CreateSpecRequest(plan_json=plan_json))
        return created.spec.id

    async def tasks(self, spec_id: str) -> dict[str, c.Task]:
        tree = await self.stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec_id, page_size=2000))
        return {t.key: t for t in tree.tasks}

    async def wait(
        self,
        execution_id: str,
        within: float = 60.0,
        stub: orchestrator_pb2_grpc.OrchestratorServiceStub | None = None,
    ) -> pb.Execution:
        deadline = time.monotonic() + within
        while True:
            got = await (stub or self.stub).GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
            if got.execution.status in FINISHED:
                return got.execution
            assert time.monotonic() < deadline, f"execution still {got.execution.status} after {within}s"
            await asyncio.sleep(0.1)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return checks.sql(self.database_url, query, *params)

    def audit(self, entity_id: str) -> list[dict[str, Any]]:
        return checks.audit(self.database_url, entity_id)

    def assert_audit_chains(self, spec_id: str) -> None:
        checks.assert_audit_chains(self.database_url, spec_id)


@pytest_asyncio.fixture(loop_scope="session")
async def cluster(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    codegen = FakeCodegen()
    base = settings_for(database_url, tmp_path)
    codegen_server = await start_server(fake_codegen_app(codegen), base, "codegen", port=0, metrics_port=0)
    servers: list[RunningServer] = []
    channels: list[Any] = []

    async def start_node(codegen_addr: str | None = None, **overrides: Any) -> Node:
        settings = settings_for(
            database_url,
            tmp_path,
            addrs={"codegen": codegen_addr or codegen_server.address},
            **{**TEST_SETTINGS, **overrides},
        )
        server = await start_server(build, settings, "orchestrator", port=0, metrics_port=0)
        servers.append(server)
        channel = open_channel(server.address, 30.0)
        channels.append(channel)
        return Node(server, orchestrator_pb2_grpc.OrchestratorServiceStub(channel), settings)

    async def crash(node: Node) -> None:
        await node.rt.runner.abandon()
        await node.server.stop(0)
        servers.remove(node.server)

    node = await start_node()
    try:
        yield Cluster(database_url, codegen, codegen_server, node, start_node, crash)
    finally:
        for channel in channels:
            await channel.close()
        for server in servers:
            await server.stop(0)
        await codegen_server.stop(0)
