"""End to end with the real mesh (orchestrator, context, codegen with the offline
generator, patterns, skills): the example spec executed wave by wave. Without an LLM key
codegen refuses the GENERIC planning tasks (FAILED_PRECONDITION): they fail at once,
without retries, and hold up only what depends on them; once a person marks them done
(SKIPPED), the next execution runs every structured task."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from devmatrix.cli.mesh import start_mesh
from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from tests.execution.checks import assert_audit_chains

ROOT = Path(__file__).resolve().parents[2]
TASK_API = ROOT / "examples" / "specs" / "task_api.md"


async def finished(stub: orchestrator_pb2_grpc.OrchestratorServiceStub, execution_id: str) -> pb.Execution:
    deadline = time.monotonic() + 240
    while True:
        got = (await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))).execution
        if got.status != pb.EXECUTION_STATUS_RUNNING:
            return got
        assert time.monotonic() < deadline, "the execution did not finish"
        await asyncio.sleep(0.25)


async def test_the_example_spec_executes_through_the_real_mesh(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> None:
    base = Settings(
        data_dir=tmp_path_factory.mktemp("mesh"),
        bind_host="127.0.0.1",
        database_url=module_database_url,
        db_pool_size=6,
        anthropic_api_key=None,
    )
    servers = await start_mesh(dataclasses.replace(base, lease_seconds=10.0), ephemeral=True)
    orchestrator = next(s for s in servers if s.app.name == "orchestrator")
    channel = open_channel(orchestrator.address, 60.0)
    try:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        spec = (await stub.CreateSpec(pb.CreateSpecRequest(markdown=TASK_API.read_text("utf-8")))).spec
        first = await finished(
            stub, (await stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec.id))).execution.id
        )
        tree = (await stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec.id, type=c.TASK_TYPE_TASK))).tasks
        generic = [t for t in tree if t.kind == c.TASK_KIND_GENERIC and t.key.startswith("P1.")]
        planning = {t.key for t in generic}
        assert first.status == pb.EXECUTION_STATUS_FAILED
        assert first.tasks_failed == len(generic) == 2 and first.tasks_completed == 0
        assert {t.status for t in generic} == {c.TASK_STATUS_FAILED}
        # Every other task depends on the planning phase: blocked, not run, not failed.
        assert {t.status for t in tree if t.key not in planning} == {c.TASK_STATUS_BLOCKED}
        db = orchestrator.app.state.db  # type: ignore[union-attr]
        async with db.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT a.attempt, a.error FROM orchestrator.task_attempts a
                   JOIN orchestrator.tasks t ON t.id = a.task_id WHERE t.spec_id = %s""",
                (spec.id,),
            )
            attempts = await cur.fetchall()
        # Refused, not retried: one attempt each, naming the missing key.
        assert len(attempts) == 2 and all(a == 1 and "ANTHROPIC_API_KEY" in e for a, e in attempts)

        for task in generic:
            await stub.UpdateTaskStatus(
                pb.UpdateTaskStatusRequest(
                    task_id=task.id, status=c.TASK_STATUS_SKIPPED, reason="planned by hand"
                )
            )
        second = await finished(
            stub, (await stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec.id))).execution.id
        )
        assert second.status == pb.EXECUTION_STATUS_COMPLETED, second
        tree = (await stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec.id, type=c.TASK_TYPE_TASK))).tasks
        structured = [t for t in tree if t.key not in planning]
        assert second.tasks_completed + second.tasks_in_review == len(structured)
        assert {t.status for t in structured} <= {c.TASK_STATUS_COMPLETED, c.TASK_STATUS_NEEDS_REVIEW}
        assert second.waves_executed >= 5
        # Workers ran side by side: the run took less than its tasks one after another.
        assert second.wall_seconds < second.sequential_seconds
        agents = {t.key: t.assigned_to for t in tree}
        assert agents["P3.models.task"] == "database-agent"
        assert agents["P3.api-task.endpoints-1"] == "backend-api-agent"
        assert agents["P4.tests.api-task"] == "testing-agent"
        async with db.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT count(DISTINCT f.task_id), count(*) FROM orchestrator.task_files f
                   JOIN orchestrator.tasks t ON t.id = f.task_id WHERE t.spec_id = %s""",
                (spec.id,),
            )
            with_files, files = await cur.fetchone()
            cur = await conn.execute(
                "SELECT count(*), bool_and(success) FROM orchestrator.agent_logs WHERE execution_id = %s",
                (second.id,),
            )
            logged, all_ok = await cur.fetchone()
        assert with_files == len(structured) and files >= len(structured)
        assert logged == len(structured) and all_ok
        progress = await stub.GetProgress(pb.GetProgressRequest(spec_id=spec.id))
        assert progress.overall.failed == 0 and progress.overall.blocked == 0
    finally:
        await channel.close()
        for server in reversed(servers):
            await server.stop(0)
    assert_audit_chains(module_database_url, spec.id)
