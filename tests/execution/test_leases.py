"""ClaimTask, Heartbeat and CompleteTask: row leases shared by concurrent claimers and
replicas, taken over when they expire, and completions that block what a failure holds up."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from tests.execution.conftest import Cluster
from tests.execution.plans import chains, wide
from tests.integration.rpc import precondition_violations


async def claim(stub: orchestrator_pb2_grpc.OrchestratorServiceStub, spec_id: str, agent: str, **kw: object):
    return await stub.ClaimTask(pb.ClaimTaskRequest(spec_id=spec_id, agent=agent, **kw))


async def complete(stub, claimed: pb.ClaimTaskResponse, **kw: object) -> pb.CompleteTaskResponse:
    return await stub.CompleteTask(
        pb.CompleteTaskRequest(task_id=claimed.task.id, lease_id=claimed.lease_id, **kw)
    )


async def test_concurrent_claimers_on_two_replicas_never_share_a_task(cluster: Cluster) -> None:
    spec_id = await cluster.create(wide(60))
    second = await cluster.start_node()
    claimed: list[str] = []

    async def claimer(stub: orchestrator_pb2_grpc.OrchestratorServiceStub, name: str) -> None:
        while True:
            got = await claim(stub, spec_id, name)
            if not got.task.id:
                return
            assert got.task.status == c.TASK_STATUS_RUNNING and got.task.assigned_to == name
            claimed.append(got.task.id)

    await asyncio.gather(
        *(claimer(cluster.stub, f"agent-a{i}") for i in range(4)),
        *(claimer(second.stub, f"agent-b{i}") for i in range(4)),
    )
    assert len(claimed) == len(set(claimed)) == 60
    # Each claim is one audited READY -> RUNNING change.
    rows = cluster.sql(
        """SELECT count(*) FROM orchestrator.audit_log a JOIN orchestrator.tasks t ON t.id = a.entity_id
           WHERE t.spec_id = %s AND a.changes ->> 'to' = 'RUNNING' AND t.task_type = 'TASK'""",
        spec_id,
    )
    assert rows == [(60,)]


async def test_claim_filters_by_skills_and_orders_by_wave(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    await cluster.stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec_id))
    nothing = await claim(cluster.stub, spec_id, "qa", skills=["testing-unit-tests"])
    assert not nothing.task.id  # c needs testing skills but waits for b
    ui = await claim(cluster.stub, spec_id, "fe", skills=["frontend-components", "frontend-css"])
    assert not ui.task.id  # e waits for d
    first = await claim(cluster.stub, spec_id, "any")
    assert first.task.key == "a" and first.task.wave == 0  # wave 0, then position
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await claim(cluster.stub, "00000000-0000-0000-0000-000000000000", "any")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await claim(cluster.stub, spec_id, "")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_heartbeat_extends_a_live_lease_and_refuses_a_wrong_one(cluster: Cluster) -> None:
    spec_id = await cluster.create(wide(2))
    got = await claim(cluster.stub, spec_id, "agent", lease_seconds=30)
    beat = await cluster.stub.Heartbeat(pb.HeartbeatRequest(task_id=got.task.id, lease_id=got.lease_id))
    assert beat.lease_expires_at.ToDatetime() >= got.lease_expires_at.ToDatetime()
    wrong = "11111111-1111-1111-1111-111111111111"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cluster.stub.Heartbeat(pb.HeartbeatRequest(task_id=got.task.id, lease_id=wrong))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert got.task.key in raised.value.details() and "held by agent" in raised.value.details()
    assert ("LEASE_NOT_HELD", got.task.key) in precondition_violations(raised.value)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cluster.stub.Heartbeat(pb.HeartbeatRequest(task_id=got.task.id, lease_id="nope"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_expired_lease_is_taken_over_and_its_holder_refused(cluster: Cluster) -> None:
    spec_id = await cluster.create(wide(1))
    first = await claim(cluster.stub, spec_id, "crashed-agent", lease_seconds=1)
    await asyncio.sleep(1.2)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cluster.stub.Heartbeat(pb.HeartbeatRequest(task_id=first.task.id, lease_id=first.lease_id))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "expired" in raised.value.details()
    # The orchestrator's watcher returns the task to READY; another agent takes it over.
    for _ in range(100):
        second = await claim(cluster.stub, spec_id, "healthy-agent")
        if second.task.id:
            break
        await asyncio.sleep(0.1)
    assert second.task.id == first.task.id and second.lease_id != first.lease_id
    reasons = [e["reason"] for e in cluster.audit(first.task.id) if e["action"] == "STATUS_CHANGE"]
    assert "lease expired, held by crashed-agent" in reasons
    # The first holder coming back cannot complete what is no longer its task.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await complete(cluster.stub, first, success=True)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    done = await complete(cluster.stub, second, success=True, confidence=0.9)
    assert done.task.status == c.TASK_STATUS_COMPLETED


async def test_a_failure_blocks_its_dependents_transitively_and_nothing_else(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    got = await claim(cluster.stub, spec_id, "agent")
    assert got.task.key == "a"
    failed = await complete(cluster.stub, got, success=False, error="model does not compile")
    assert failed.task.status == c.TASK_STATUS_FAILED
    t = await cluster.tasks(spec_id)
    assert (t["b"].status, t["c"].status) == (c.TASK_STATUS_BLOCKED, c.TASK_STATUS_BLOCKED)
    assert (t["d"].status, t["e"].status, t["f"].status) == (
        c.TASK_STATUS_READY,
        c.TASK_STATUS_PENDING,
        c.TASK_STATUS_READY,
    )
    assert cluster.audit(t["c"].id)[-1]["reason"] == "dependency a failed"
    assert t["G"].status == c.TASK_STATUS_FAILED  # rolled up
    # The failure is in the retry history and the agent logs.
    assert cluster.sql(
        "SELECT success, error, generator FROM orchestrator.task_attempts WHERE task_id = %s", t["a"].id
    ) == [(False, "model does not compile", "external")]
    assert cluster.sql(
        "SELECT agent, phase, action, success FROM orchestrator.agent_logs WHERE task_id = %s", t["a"].id
    ) == [("agent", "execution", "complete", False)]


async def test_completion_stores_files_and_report_and_is_idempotent(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    got = await claim(cluster.stub, spec_id, "agent")
    files = [c.GeneratedFile(path="app/models/a.py", content="A = 1\n", language="python")]
    first = await complete(
        cluster.stub,
        got,
        success=True,
        files=files,
        confidence=0.95,
        request_id="done-a",
        report_json='{"x": 1}',
    )
    again = await complete(cluster.stub, got, success=True, confidence=0.95, request_id="done-a")
    assert first.task.status == again.task.status == c.TASK_STATUS_COMPLETED
    assert again.task.version == first.task.version
    assert cluster.sql(
        "SELECT path, content FROM orchestrator.task_files WHERE task_id = %s", got.task.id
    ) == [("app/models/a.py", "A = 1\n")]
    reports = await cluster.stub.ListReports(pb.ListReportsRequest(task_id=got.task.id))
    assert len(reports.reports) == 1 and json.loads(reports.reports[0].content_json)["x"] == 1
    t = await cluster.tasks(spec_id)
    assert t["b"].status == c.TASK_STATUS_READY  # dependents unblock

    low = await claim(cluster.stub, spec_id, "agent")
    review = await complete(cluster.stub, low, success=True, files=files, confidence=0.3)
    assert review.task.status == c.TASK_STATUS_NEEDS_REVIEW
    (reason,) = cluster.sql("SELECT review_reason FROM orchestrator.tasks WHERE id = %s", low.task.id)[0]
    assert reason == "confidence 0.30 is under the review threshold 0.60"

    bad = await claim(cluster.stub, spec_id, "agent")
    for path in ("../etc/passwd", "/abs.py", "a/./b.py", ""):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await complete(cluster.stub, bad, success=True, files=[c.GeneratedFile(path=path, content="")])
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, path
