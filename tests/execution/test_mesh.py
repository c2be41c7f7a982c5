"""End to end with the real mesh (orchestrator, context, codegen with the offline
generator, patterns, skills): the example specs executed wave by wave, without an LLM key.
task_api.md runs to the end on the first execution: the structured tasks and the GENERIC
analysis tasks (docs/requirements.md, docs/constraints.md) are all generated offline.
blog_ui.md has UI tasks, which codegen refuses (FAILED_PRECONDITION): the first of them
(P2.design.ui) fails at once, without retries, and holds up only what depends on it, which
is every task of the later phases; its design siblings and the analysis still complete."""

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
TASK_API = (ROOT / "examples" / "specs" / "task_api.md").read_text("utf-8")
BLOG_UI = (ROOT / "examples" / "specs" / "blog_ui.md").read_text("utf-8")
DONE = {c.TASK_STATUS_COMPLETED, c.TASK_STATUS_NEEDS_REVIEW}


async def finished(stub: orchestrator_pb2_grpc.OrchestratorServiceStub, execution_id: str) -> pb.Execution:
    deadline = time.monotonic() + 240
    while True:
        got = (await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))).execution
        if got.status != pb.EXECUTION_STATUS_RUNNING:
            return got
        assert time.monotonic() < deadline, "the execution did not finish"
        await asyncio.sleep(0.25)


async def execute(
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub, markdown: str
) -> tuple[str, pb.Execution, list[c.Task]]:
    """Create the spec, execute it to the end: (spec id, execution, its tasks)."""
    created = (await stub.CreateSpec(pb.CreateSpecRequest(markdown=markdown))).spec
    execution = await finished(
        stub, (await stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=created.id))).execution.id
    )
    tree = await stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=created.id, type=c.TASK_TYPE_TASK))
    return created.id, execution, list(tree.tasks)


def dependents(tasks: list[c.Task], roots: set[str]) -> set[str]:
    """Ids of every task that depends on one of `roots`, directly or through others."""
    found: set[str] = set()
    frontier = set(roots)
    while frontier:
        frontier = {t.id for t in tasks if set(t.depends_on) & frontier} - found
        found |= frontier
    return found


async def test_the_example_specs_execute_through_the_real_mesh(
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
    db = orchestrator.app.state.db  # type: ignore[union-attr]
    channel = open_channel(orchestrator.address, 60.0)
    try:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)

        # --- task_api.md: every task generated offline on the first execution ----------------
        spec_id, first, tree = await execute(stub, TASK_API)
        assert first.status == pb.EXECUTION_STATUS_COMPLETED, first
        assert first.tasks_failed == 0
        assert first.tasks_completed + first.tasks_in_review == len(tree)
        assert {t.status for t in tree} <= DONE
        analysis = {t.key for t in tree if t.kind == c.TASK_KIND_GENERIC and t.key.startswith("P1.")}
        assert analysis == {"P1.analysis.requirements", "P1.analysis.constraints"}
        assert first.waves_executed >= 5
        # Workers ran side by side: the run took less than its tasks one after another.
        assert first.wall_seconds < first.sequential_seconds
        agents = {t.key: t.assigned_to for t in tree}
        assert agents["P3.models.task"] == "database-agent"
        assert agents["P3.api-task.endpoints-1"] == "backend-api-agent"
        assert agents["P4.tests.api-task"] == "testing-agent"
        async with db.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT count(DISTINCT f.task_id), count(*) FROM orchestrator.task_files f
                   JOIN orchestrator.tasks t ON t.id = f.task_id WHERE t.spec_id = %s""",
                (spec_id,),
            )
            with_files, files = await cur.fetchone()
            cur = await conn.execute(
                """SELECT t.key, f.path FROM orchestrator.task_files f
                   JOIN orchestrator.tasks t ON t.id = f.task_id
                   WHERE t.spec_id = %s AND t.key LIKE 'P1.analysis.%%'""",
                (spec_id,),
            )
            analysis_files = set(await cur.fetchall())
            cur = await conn.execute(
                "SELECT count(*), bool_and(success) FROM orchestrator.agent_logs WHERE execution_id = %s",
                (first.id,),
            )
            logged, all_ok = await cur.fetchone()
        assert with_files == len(tree) and files >= len(tree)
        assert analysis_files == {
            ("P1.analysis.requirements", "docs/requirements.md"),
            ("P1.analysis.constraints", "docs/constraints.md"),
        }
        assert logged == len(tree) and all_ok
        progress = await stub.GetProgress(pb.GetProgressRequest(spec_id=spec_id))
        assert progress.overall.failed == 0 and progress.overall.blocked == 0

        # --- blog_ui.md: refused UI tasks fail once and block only their dependents -----------
        blog_id, blog, blog_tree = await execute(stub, BLOG_UI)
        assert blog.status == pb.EXECUTION_STATUS_FAILED
        by_id = {t.id: t for t in blog_tree}
        failed = {t.id for t in blog_tree if t.status == c.TASK_STATUS_FAILED}
        ui = {t.id for t in blog_tree if t.kind == c.TASK_KIND_UI}
        # P2.design.ui is the first UI task to run and is refused; the phases after the design
        # phase depend on all of it, so every later task waits: blocked, never run.
        assert {by_id[i].key for i in failed} == {"P2.design.ui"}
        assert failed <= ui and blog.tasks_failed == len(failed)
        blocked = dependents(blog_tree, failed)
        assert {"P3.ui.layout", "P3.ui.page-1", "P4.tests.ui", "P3.models.post"} <= {
            by_id[i].key for i in blocked
        }
        assert {t.id for t in blog_tree if t.status == c.TASK_STATUS_BLOCKED} == blocked
        # Only its dependents: the tasks that do not depend on it, its design siblings and
        # the analysis before it, were generated.
        rest = [t for t in blog_tree if t.id not in failed | blocked]
        assert {t.status for t in rest} <= DONE, [(t.key, t.status) for t in rest]
        assert {t.key for t in rest} == {
            "P1.analysis.requirements",
            "P1.analysis.constraints",
            "P2.design.structure",
            "P2.design.data-model",
            "P2.design.api-contract",
        }
        assert blog.tasks_completed + blog.tasks_in_review == len(rest)
        async with db.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT t.key, a.attempt, a.error FROM orchestrator.task_attempts a
                   JOIN orchestrator.tasks t ON t.id = a.task_id
                   WHERE t.spec_id = %s AND t.status IN ('FAILED', 'BLOCKED')""",
                (blog_id,),
            )
            attempts = await cur.fetchall()
        # Refused, not retried: one attempt, naming the missing key; the blocked never ran.
        assert sorted(k for k, _, _ in attempts) == sorted(by_id[i].key for i in failed)
        assert all(a == 1 and "ANTHROPIC_API_KEY" in e for _, a, e in attempts), attempts
    finally:
        await channel.close()
        for server in reversed(servers):
            await server.stop(0)
    assert_audit_chains(module_database_url, spec_id)
    assert_audit_chains(module_database_url, blog_id)
