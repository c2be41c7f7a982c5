"""Specs for the context tests, created through the orchestrator's API."""

from __future__ import annotations

from pathlib import Path

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.fixtures.mesh import Orchestrator

ROOT = Path(__file__).resolve().parents[2]
TASK_API = ROOT / "examples" / "specs" / "task_api.md"
SMALL_PLAN = ROOT / "examples" / "plans" / "small_plan.json"


async def create_spec(
    o: Orchestrator, markdown: str = "", plan_json: str = ""
) -> tuple[str, dict[str, c.Task]]:
    """Create and analyze a spec; its TASKs by key."""
    request = (
        pb.CreateSpecRequest(markdown=markdown) if markdown else pb.CreateSpecRequest(plan_json=plan_json)
    )
    created = await o.stub.CreateSpec(request)
    await o.stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=created.spec.id))
    tree = await o.stub.GetTaskTree(
        pb.GetTaskTreeRequest(spec_id=created.spec.id, page_size=2000, type=c.TASK_TYPE_TASK)
    )
    return created.spec.id, {t.key: t for t in tree.tasks}


def richest(tasks: dict[str, c.Task]) -> c.Task:
    """The task with the most dependencies, criteria and skills: the most to assemble."""
    return max(
        tasks.values(),
        key=lambda t: (len(t.depends_on) > 0, len(t.acceptance_criteria) + len(t.required_skills), t.key),
    )


async def complete(o: Orchestrator, task_id: str) -> None:
    """Walk a task through the state machine to COMPLETED."""
    path = (c.TASK_STATUS_READY, c.TASK_STATUS_RUNNING, c.TASK_STATUS_COMPLETED)
    current = (await o.stub.GetTask(pb.GetTaskRequest(task_id=task_id))).task.status
    for status in path[path.index(current) + 1 if current in path else 0 :]:
        await o.stub.UpdateTaskStatus(pb.UpdateTaskStatusRequest(task_id=task_id, status=status))
