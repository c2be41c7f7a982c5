"""The gateway in front of a real mesh: orchestrator, context, patterns and skills started
in this process on a real PostgreSQL, a scripted codegen (tests/execution/fake_codegen.py)
so executions are quick and their outcomes chosen, and the gateway app served by a real
uvicorn on a free port. Started once for the package's tests."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI

from devmatrix.cli.mesh import free_port, start_mesh
from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import SERVICE_NAMES, Settings
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import orchestrator_pb2_grpc
from gateway.app import create_app
from tests.execution.fake_codegen import FakeCodegen, fake_codegen_app
from tests.fixtures.mesh import settings_for
from tests.fixtures.postgres import fresh_database

ROOT = Path(__file__).resolve().parents[2]
SMALL_PLAN: dict[str, Any] = json.loads((ROOT / "examples" / "plans" / "small_plan.json").read_text("utf-8"))
CORS_ORIGIN = "http://dashboard.test"
MAX_BODY = 256 * 1024


class _Uvicorn(uvicorn.Server):
    """uvicorn inside the test's event loop, leaving the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """`app` served by uvicorn on a free loopback port (its lifespan run); yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Uvicorn(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


@dataclasses.dataclass
class Gateway:
    url: str
    app: FastAPI
    settings: Settings
    codegen: FakeCodegen
    servers: dict[str, RunningServer]
    # Direct gRPC access, for what the HTTP API does not do (moving a task by hand).
    orchestrator: orchestrator_pb2_grpc.OrchestratorServiceStub

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=60.0, trust_env=False, **kwargs)


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def gateway(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    ports = {name: free_port() for name in SERVICE_NAMES}
    with fresh_database(pg_server) as database_url:
        settings = settings_for(
            database_url,
            tmp_path_factory.mktemp("gateway"),
            ports=ports,
            addrs={name: f"127.0.0.1:{port}" for name, port in ports.items()},
            metrics_ports=dict.fromkeys(SERVICE_NAMES, 0),
            lease_seconds=5.0,
            task_retry_backoff_seconds=0.01,
            task_timeout_seconds=10.0,
            execution_concurrency=2,
            gateway_cors_origins=(CORS_ORIGIN,),
            gateway_max_body_bytes=MAX_BODY,
            gateway_keepalive_seconds=0.3,
        )
        codegen = FakeCodegen()
        codegen_server = await start_server(fake_codegen_app(codegen), settings, "codegen")
        servers: list[RunningServer] = []
        channel = None
        try:
            servers = await start_mesh(
                settings, ephemeral=False, services=("orchestrator", "context", "patterns", "skills")
            )
            channel = open_channel(settings.addr("orchestrator"), 30.0)
            app = create_app(settings)
            async with serve(app) as url:
                yield Gateway(
                    url,
                    app,
                    settings,
                    codegen,
                    {s.app.name: s for s in servers},
                    orchestrator_pb2_grpc.OrchestratorServiceStub(channel),
                )
        finally:
            if channel is not None:
                await channel.close()
            for server in reversed(servers):
                await server.stop(0)
            await codegen_server.stop(0)


@pytest_asyncio.fixture(loop_scope="session")
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway.client() as client:
        yield client


async def create_plan(http: httpx.AsyncClient, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new spec from the small example plan (or `plan`): the 201 body."""
    reply = await http.post("/api/specs", json={"plan": plan or SMALL_PLAN})
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def tasks_by_key(http: httpx.AsyncClient, spec_id: str) -> dict[str, dict[str, Any]]:
    reply = await http.get(f"/api/specs/{spec_id}/tasks", params={"page_size": 2000})
    assert reply.status_code == 200, reply.text
    return {t["key"]: t for t in reply.json()["tasks"]}


def assert_problem(
    reply: httpx.Response, status: int, code: str, *fields: str, request_id: str | None = None
) -> dict[str, Any]:
    """A problem+json answer with this status and code, naming `fields` among its violations."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json"), reply.headers
    body: dict[str, Any] = reply.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["detail"] and body["title"], body
    assert body["request_id"] == reply.headers["x-request-id"], body
    if request_id is not None:
        assert body["request_id"] == request_id
    named = {v["field"] for v in body["field_violations"]}
    for field in fields:
        assert field in named, (field, body)
        assert all(v["description"] for v in body["field_violations"]), body
    return body
