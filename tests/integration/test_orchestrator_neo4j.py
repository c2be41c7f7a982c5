"""The orchestrator on a real Neo4j: same analysis as the embedded graph, the graph written
back, and a Neo4j outage answered with UNAVAILABLE without half-written data."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

import grpc
import psycopg
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from neo4j import AsyncGraphDatabase

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.server import start_server
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from services.orchestrator.app import build
from tests.fixtures.mesh import Orchestrator, settings_for
from tests.integration import plans
from tests.integration.tcp_proxy import TcpProxy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "specs" / "task_api.md"


@pytest_asyncio.fixture(loop_scope="session")
async def neo4j_proxy(neo4j_uri: str) -> AsyncIterator[TcpProxy]:
    target = urlparse(neo4j_uri)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 7687)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest_asyncio.fixture(loop_scope="session")
async def neo4j_orchestrator(
    database_url: str, tmp_path: Path, neo4j_proxy: TcpProxy
) -> AsyncIterator[Orchestrator]:
    settings = settings_for(database_url, tmp_path, neo4j_uri=f"bolt://127.0.0.1:{neo4j_proxy.port}")
    settings = dataclasses.replace(settings, neo4j_password="unused", grpc_deadline_seconds=5.0)
    server = await start_server(build, settings, "orchestrator", port=0, metrics_port=0)
    channel = open_channel(server.address, 15.0)
    try:
        yield Orchestrator(server, orchestrator_pb2_grpc.OrchestratorServiceStub(channel), settings)
    finally:
        await channel.close()
        await server.stop(0)


async def waves_by_key(o: Orchestrator, spec_id: str) -> tuple[dict[str, int], int, int]:
    """Waves by task key and the critical path's effort and the widest wave (ties between
    equally long paths break by task id, and ids differ between the two stores)."""
    analysis = await o.stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec_id))
    tree = await o.stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec_id))
    key = {t.id: t.key for t in tree.tasks}
    waves = {key[i]: w.number for w in analysis.waves for i in w.task_ids}
    return waves, analysis.critical_path_effort, analysis.max_width


async def test_neo4j_and_embedded_orchestrators_agree(
    orchestrator: Orchestrator, neo4j_orchestrator: Orchestrator, neo4j_uri: str
) -> None:
    request = pb.CreateSpecRequest(markdown=EXAMPLE.read_text())
    embedded = await orchestrator.stub.CreateSpec(request)
    on_neo4j = await neo4j_orchestrator.stub.CreateSpec(request)
    assert await waves_by_key(orchestrator, embedded.spec.id) == await waves_by_key(
        neo4j_orchestrator, on_neo4j.spec.id
    )

    spec_id = on_neo4j.spec.id
    tree = (await neo4j_orchestrator.stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec_id))).tasks
    first = next(t for t in tree if t.type == c.TASK_TYPE_TASK and not t.depends_on)
    await neo4j_orchestrator.stub.UpdateTaskStatus(
        pb.UpdateTaskStatusRequest(task_id=first.id, status=c.TASK_STATUS_RUNNING)
    )
    async with AsyncGraphDatabase.driver(neo4j_uri, auth=("neo4j", "unused")) as driver:
        records, _, _ = await driver.execute_query(
            """MATCH (t:Task {spec_id: $spec}) OPTIONAL MATCH (t)-[:IN_WAVE]->(w:Wave)
               RETURN t.id AS id, t.status AS status, w.number AS wave""",
            spec=spec_id,
        )
        parents, _, _ = await driver.execute_query(
            "MATCH (p:Task {spec_id: $spec})-[:PARENT_OF]->(t:Task) RETURN count(*) AS n", spec=spec_id
        )
    in_graph = {r["id"]: r for r in records}
    assert set(in_graph) == {t.id for t in tree}
    assert in_graph[first.id]["status"] == "RUNNING"
    for task in tree:
        if task.type == c.TASK_TYPE_TASK:
            assert in_graph[task.id]["wave"] == task.wave
    assert parents[0]["n"] == sum(1 for t in tree if t.parent_id)


async def readiness_becomes(o: Orchestrator, wanted: int, within: float = 10.0) -> bool:
    channel = open_channel(o.server.address, 2.0)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            reply = await health.Check(
                health_pb2.HealthCheckRequest(service="devmatrix.v1.OrchestratorService")
            )
            if reply.status == wanted:
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await channel.close()


async def test_neo4j_outage_is_unavailable_and_stores_nothing(
    neo4j_orchestrator: Orchestrator, neo4j_proxy: TcpProxy
) -> None:
    spec = (await neo4j_orchestrator.stub.CreateSpec(pb.CreateSpecRequest(plan_json=plans.diamond()))).spec
    with psycopg.connect(neo4j_orchestrator.settings.database_url) as conn:
        before = conn.execute(
            "SELECT (SELECT count(*) FROM orchestrator.specs), (SELECT count(*) FROM orchestrator.audit_log)"
        ).fetchone()

    await neo4j_proxy.cut()
    for call in (
        neo4j_orchestrator.stub.CreateSpec(pb.CreateSpecRequest(plan_json=plans.diamond("During outage"))),
        neo4j_orchestrator.stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec.id)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value.details()
        assert "neo4j" in raised.value.details().lower()
    tree = (
        await neo4j_orchestrator.stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec.id))
    ).tasks  # PostgreSQL still serves
    ready = next(t for t in tree if t.status == c.TASK_STATUS_READY)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await neo4j_orchestrator.stub.UpdateTaskStatus(
            pb.UpdateTaskStatusRequest(task_id=ready.id, status=c.TASK_STATUS_RUNNING)
        )
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    with psycopg.connect(neo4j_orchestrator.settings.database_url) as conn:
        after = conn.execute(
            "SELECT (SELECT count(*) FROM orchestrator.specs), (SELECT count(*) FROM orchestrator.audit_log)"
        ).fetchone()
        status = conn.execute("SELECT status FROM orchestrator.tasks WHERE id = %s", (ready.id,)).fetchone()[
            0
        ]
    assert after == before
    assert status == "READY"
    assert await readiness_becomes(neo4j_orchestrator, health_pb2.HealthCheckResponse.NOT_SERVING)

    await neo4j_proxy.start()  # same port: the backend is back
    assert await readiness_becomes(neo4j_orchestrator, health_pb2.HealthCheckResponse.SERVING)
    done = await neo4j_orchestrator.stub.UpdateTaskStatus(
        pb.UpdateTaskStatusRequest(task_id=ready.id, status=c.TASK_STATUS_RUNNING)
    )
    assert done.task.status == c.TASK_STATUS_RUNNING
