"""An execution survives the death of its process: the next orchestrator (a restart, or
another replica) takes over the dead one's leases once they expire and finishes the run;
no task completes twice and the audit trail stays whole."""

from __future__ import annotations

import asyncio
import time

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.execution.conftest import Cluster, Node
from tests.execution.fake_codegen import ok
from tests.execution.plans import tasks_plan

PLAN = tasks_plan(
    [
        *({"key": f"w{i}"} for i in range(6)),
        {"key": "x", "depends_on": ["w0", "w1"]},
        {"key": "y", "depends_on": ["x", "w5"]},
    ]
)


async def crash_mid_run(cluster: Cluster) -> tuple[str, str, set[str]]:
    """Start an execution on the cluster's node and kill the node while two tasks run."""
    spec_id = await cluster.create(PLAN)
    cluster.codegen.default = ok(delay=0.6)
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id, concurrency=2))
    deadline = time.monotonic() + 20
    while True:
        t = await cluster.tasks(spec_id)
        running = {
            x.id for x in t.values() if x.type == c.TASK_TYPE_TASK and x.status == c.TASK_STATUS_RUNNING
        }
        done = [x for x in t.values() if x.type == c.TASK_TYPE_TASK and x.status == c.TASK_STATUS_COMPLETED]
        if len(running) == 2 and done:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await cluster.crash(cluster.node)
    rows = cluster.sql(
        """SELECT count(*) FROM orchestrator.tasks WHERE spec_id = %s AND status = 'RUNNING'
           AND task_type = 'TASK' AND lease_id IS NOT NULL""",
        spec_id,
    )
    assert rows == [(2,)]  # left behind under the dead process's leases
    state = cluster.sql("SELECT status FROM orchestrator.executions WHERE id = %s", started.execution.id)
    assert state == [("RUNNING",)]
    return spec_id, started.execution.id, running


async def assert_finished_once(
    cluster: Cluster, node: Node, spec_id: str, execution_id: str, taken: set[str]
) -> None:
    done = await cluster.wait(execution_id, within=60, stub=node.stub)
    assert done.status == pb.EXECUTION_STATUS_COMPLETED
    assert done.tasks_completed == 8 and done.tasks_failed == 0
    completions = cluster.sql(
        """SELECT t.key, count(a.*) FROM orchestrator.tasks t LEFT JOIN orchestrator.audit_log a
               ON a.entity_id = t.id AND a.changes ->> 'to' = 'COMPLETED'
           WHERE t.spec_id = %s AND t.task_type = 'TASK' GROUP BY t.key""",
        spec_id,
    )
    assert dict(completions) == {k: 1 for k in (*(f"w{i}" for i in range(6)), "x", "y")}
    for task_id in taken:
        reasons = [e["reason"] for e in cluster.audit(task_id) if e["action"] == "STATUS_CHANGE"]
        assert any(r.startswith("lease expired, held by ") for r in reasons), reasons
    cluster.assert_audit_chains(spec_id)
    # One START and one FINISH, whichever process finished it.
    assert [e["action"] for e in cluster.audit(execution_id)] == ["EXECUTION_START", "EXECUTION_FINISH"]


async def test_a_restarted_orchestrator_resumes_the_execution(cluster: Cluster) -> None:
    spec_id, execution_id, running = await crash_mid_run(cluster)
    restarted = await cluster.start_node(lease_seconds=1.0)
    await assert_finished_once(cluster, restarted, spec_id, execution_id, running)
    assert restarted.metric("devmatrix_execution_tasks_total", result="completed") >= 2


async def test_a_live_replica_takes_over_a_dead_ones_execution(cluster: Cluster) -> None:
    replica = await cluster.start_node(lease_seconds=1.0)
    spec_id, execution_id, running = await crash_mid_run(cluster)  # run by the cluster's node
    await assert_finished_once(cluster, replica, spec_id, execution_id, running)
