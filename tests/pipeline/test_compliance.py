"""Phase 6.5 against the real orchestrator and skills services: the project the database
holds is checked, and under the target each failing task is repaired (the standards
applied; a regeneration when codegen can give better files) and its files replaced."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from devmatrix.cli.mesh import free_port, start_mesh
from devmatrix.pipeline.clients import Clients
from devmatrix.pipeline.compliance import check_and_repair
from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.execution.checks import audit
from tests.execution.plans import tasks_plan

# Unused and unsorted imports, two-space indents: what ApplyStandards fixes.
SLOPPY = "import os, sys\nimport json\ndef load(path: str) -> object:\n  return json.loads(path)\n"
CLEAN = '"""Settings."""\n\nLIMIT = 10\n'


@dataclasses.dataclass
class Mesh:
    clients: Clients
    database_url: str


@pytest_asyncio.fixture(loop_scope="session")
async def mesh(database_url: str, tmp_path: Path) -> AsyncIterator[Mesh]:
    settings = Settings(data_dir=tmp_path, bind_host="127.0.0.1", database_url=database_url, db_pool_size=4)
    servers = await start_mesh(settings, ephemeral=True, services=("orchestrator", "skills"))
    address = {s.app.name: s.address for s in servers}
    # Codegen is not running: a regeneration attempt fails (UNAVAILABLE) and the repair
    # keeps what the standards gave.
    address["codegen"] = address["patterns"] = f"127.0.0.1:{free_port()}"
    channels = {name: open_channel(addr, 30.0) for name, addr in address.items()}
    try:
        yield Mesh(Clients.of(channels, generation_deadline=5.0), database_url)
    finally:
        for channel in channels.values():
            await channel.close()
        for server in reversed(servers):
            await server.stop(0)


async def completed_with(mesh: Mesh, files: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A spec whose tasks (one per file) an external agent completed with those files."""
    orchestrator = mesh.clients.orchestrator
    plan = tasks_plan([{"key": f"t{i}", "kind": "CONFIG"} for i in range(len(files))])
    spec_id = (await orchestrator.CreateSpec(pb.CreateSpecRequest(plan_json=plan))).spec.id
    await orchestrator.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec_id))
    owners: dict[str, str] = {}
    for path, content in files.items():
        lease = await orchestrator.ClaimTask(pb.ClaimTaskRequest(spec_id=spec_id, agent="agent-x"))
        done = await orchestrator.CompleteTask(
            pb.CompleteTaskRequest(
                task_id=lease.task.id,
                lease_id=lease.lease_id,
                success=True,
                files=[c.GeneratedFile(path=path, content=content, language="python")],
            )
        )
        assert done.task.status == c.TASK_STATUS_COMPLETED
        owners[path] = lease.task.id
    return spec_id, owners


async def stored(mesh: Mesh, spec_id: str) -> dict[str, str]:
    listing = await mesh.clients.orchestrator.ListTaskFiles(pb.ListTaskFilesRequest(spec_id=spec_id))
    return {f.file.path: f.file.content for f in listing.files}


async def test_under_the_target_failing_tasks_are_repaired_and_audited(mesh: Mesh) -> None:
    spec_id, owners = await completed_with(mesh, {"app/loader.py": SLOPPY, "app/settings.py": CLEAN})
    progress: list[tuple[int, int]] = []
    result = await check_and_repair(mesh.clients, spec_id, 0.99, lambda d, t: progress.append((d, t)))
    assert result.before < 0.99 and result.after > result.before
    assert result.repaired == [owners["app/loader.py"]] and progress == [(1, 1)]
    files = await stored(mesh, spec_id)
    assert files["app/settings.py"] == CLEAN
    assert (
        files["app/loader.py"]
        == "import json\n\n\ndef load(path: str) -> object:\n    return json.loads(path)\n"
    )
    [repair] = [
        r for r in audit(mesh.database_url, owners["app/loader.py"]) if r["action"] == "FILES_REPAIRED"
    ]
    assert repair["score_before"] < repair["score_after"] and repair["files"] == ["app/loader.py"]
    reports = await mesh.clients.orchestrator.ListReports(
        pb.ListReportsRequest(task_id=owners["app/loader.py"])
    )
    verification = [
        json.loads(r.content_json) for r in reports.reports if r.type == pb.REPORT_TYPE_VERIFICATION
    ]
    assert "under 0.99" in verification[0]["reason"]
    # The task is still done: a repair changes the code, not the status.
    task = await mesh.clients.orchestrator.GetTask(pb.GetTaskRequest(task_id=owners["app/loader.py"]))
    assert task.task.status == c.TASK_STATUS_COMPLETED


async def test_at_or_over_the_target_nothing_is_touched(mesh: Mesh) -> None:
    spec_id, owners = await completed_with(mesh, {"app/loader.py": SLOPPY})
    result = await check_and_repair(mesh.clients, spec_id, 0.5, lambda d, t: None)
    assert result.before == result.after >= 0.5 and result.repaired == []
    assert await stored(mesh, spec_id) == {"app/loader.py": SLOPPY}
    assert not [
        r for r in audit(mesh.database_url, owners["app/loader.py"]) if r["action"] == "FILES_REPAIRED"
    ]
