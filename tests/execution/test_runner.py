"""ExecuteSpec, ExecuteWave, CancelExecution and GetExecution against a scripted codegen:
waves in order, parallel workers, retries with feedback, failures that block only their
dependents, low confidence to review, cancellation, idempotency, the audit trail."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc
import pytest

from devmatrix.cli.mesh import free_port
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.execution.conftest import Cluster
from tests.execution.fake_codegen import fail, ok
from tests.execution.plans import chains, wide

U = grpc.StatusCode.UNAVAILABLE


async def execute(cluster: Cluster, spec_id: str, **kw: object) -> pb.Execution:
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id, **kw))
    return started.execution


async def test_a_spec_runs_wave_by_wave_in_the_background(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    started = await execute(cluster, spec_id, concurrency=3)
    assert started.status == pb.EXECUTION_STATUS_RUNNING  # returned at once
    done = await cluster.wait(started.id)
    assert done.status == pb.EXECUTION_STATUS_COMPLETED
    assert (done.tasks_completed, done.tasks_failed, done.tasks_in_review) == (6, 0, 0)
    assert done.waves_executed == 3  # a | b,e | c
    assert done.wall_seconds > 0 and done.sequential_seconds > 0 and done.finished_at.seconds

    t = await cluster.tasks(spec_id)
    assert all(t[k].status == c.TASK_STATUS_COMPLETED for k in "abcdefGP")
    assert {k: t[k].assigned_to for k in "abcdef"} == {
        "a": "database-agent",
        "b": "backend-api-agent",
        "c": "testing-agent",
        "d": "generalist-agent",
        "e": "frontend-agent",
        "f": "generalist-agent",
    }
    assert await cluster.node.rt.graph.assigned_agent(t["b"].id) == ("backend-api-agent", "backend")
    # Waves in order: a task was generated only after its dependencies completed.
    order = [call.task_id for call in cluster.codegen.calls]
    assert order.index(t["a"].id) < order.index(t["b"].id) < order.index(t["c"].id)
    assert order.index(t["d"].id) < order.index(t["e"].id)
    # Accepted files, history and agent logs.
    assert cluster.sql(
        "SELECT count(*) FROM orchestrator.task_files f JOIN orchestrator.tasks t ON t.id = f.task_id WHERE t.spec_id = %s",
        spec_id,
    ) == [(6,)]
    logs = cluster.sql(
        """SELECT agent, phase, action, success, tokens_in, tokens_out, cost_usd, execution_id::text
           FROM orchestrator.agent_logs WHERE spec_id = %s""",
        spec_id,
    )
    assert len(logs) == 6 and {row[1:4] for row in logs} == {("execution", "generate", True)}
    assert {row[4:8] for row in logs} == {(100, 40, 0.002, started.id)}
    spec = await cluster.stub.GetSpec(pb.GetSpecRequest(spec_id=spec_id))
    assert spec.spec.status == pb.SPEC_STATUS_COMPLETED
    cluster.assert_audit_chains(spec_id)
    # The execution's own status changes are audited too.
    audit = cluster.audit(started.id)
    assert [(e["action"], e.get("to")) for e in audit] == [
        ("EXECUTION_START", "RUNNING"),
        ("EXECUTION_FINISH", "COMPLETED"),
    ]
    node = cluster.node
    assert node.metric("devmatrix_execution_tasks_total", result="completed") == 6
    assert node.metric("devmatrix_execution_waves_executed_total") == 3
    assert node.metric("devmatrix_execution_wave_seconds_count") == 3
    assert node.metric("devmatrix_execution_cost_usd_total") == pytest.approx(0.012)
    assert node.metric("devmatrix_execution_parallelism") == 0


async def test_workers_run_a_wave_in_parallel(cluster: Cluster) -> None:
    spec_id = await cluster.create(wide(8))
    cluster.codegen.default = ok(delay=0.4)
    done = await cluster.wait((await execute(cluster, spec_id, concurrency=4)).id)
    assert done.tasks_completed == 8
    assert cluster.codegen.max_running == 4
    assert done.sequential_seconds >= 3.2 and done.wall_seconds < done.sequential_seconds / 2


async def test_transient_failures_are_retried_with_the_previous_error(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    cluster.codegen.script(t["a"].id, fail(U, "skills down"), fail(U, "skills still down"), ok())
    done = await cluster.wait((await execute(cluster, spec_id)).id)
    assert done.status == pb.EXECUTION_STATUS_COMPLETED
    calls = cluster.codegen.calls_for(t["a"].id)
    assert [call.attempt for call in calls] == [1, 2, 3]
    assert calls[0].previous_error == ""
    assert "skills down (attempt 1)" in calls[1].previous_error
    assert "skills still down (attempt 2)" in calls[2].previous_error
    history = cluster.sql(
        "SELECT attempt, success, error FROM orchestrator.task_attempts WHERE task_id = %s ORDER BY id",
        t["a"].id,
    )
    assert [(a, s) for a, s, _ in history] == [(1, False), (2, False), (3, True)]
    assert history[0][2].startswith("UNAVAILABLE: skills down")
    assert cluster.sql("SELECT attempts FROM orchestrator.tasks WHERE id = %s", t["a"].id) == [(3,)]
    assert cluster.node.metric("devmatrix_execution_retries_total") == 2


async def test_a_failed_task_blocks_only_its_dependents(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    cluster.codegen.script(t["a"].id, fail(U, "codegen overloaded"))
    # A task codegen refuses (no LLM for it) fails at once: the same request would fail again.
    cluster.codegen.script(t["d"].id, fail(grpc.StatusCode.FAILED_PRECONDITION, "no ANTHROPIC_API_KEY"))
    done = await cluster.wait((await execute(cluster, spec_id)).id)
    assert done.status == pb.EXECUTION_STATUS_FAILED
    assert (done.tasks_completed, done.tasks_failed) == (1, 2)  # f completed; a, d failed
    t = await cluster.tasks(spec_id)
    statuses = {k: c.TaskStatus.Name(t[k].status).removeprefix("TASK_STATUS_") for k in "abcdef"}
    assert statuses == {
        "a": "FAILED",
        "b": "BLOCKED",
        "c": "BLOCKED",
        "d": "FAILED",
        "e": "BLOCKED",
        "f": "COMPLETED",
    }
    assert len(cluster.codegen.calls_for(t["a"].id)) == 3  # TASK_MAX_ATTEMPTS
    assert len(cluster.codegen.calls_for(t["d"].id)) == 1
    assert not cluster.codegen.calls_for(t["b"].id)
    reports = await cluster.stub.ListReports(pb.ListReportsRequest(task_id=t["a"].id))
    assert "codegen UNAVAILABLE after 3 attempt(s)" in reports.reports[-1].content_json
    cluster.assert_audit_chains(spec_id)
    assert cluster.node.metric("devmatrix_execution_tasks_total", result="failed") == 2

    # The next execution gives the failed tasks another chance; their history is kept.
    cluster.codegen.script(t["a"].id, ok())
    cluster.codegen.script(t["d"].id, ok())
    again = await cluster.wait((await execute(cluster, spec_id)).id)
    assert again.status == pb.EXECUTION_STATUS_COMPLETED and again.tasks_completed == 5
    assert cluster.codegen.calls_for(t["a"].id)[-1].attempt == 4
    cluster.assert_audit_chains(spec_id)


async def test_a_call_slower_than_the_task_timeout_is_cut_and_retried(cluster: Cluster) -> None:
    node = await cluster.start_node(task_timeout_seconds=0.3)
    spec_id = await cluster.create(wide(1))
    task = (await cluster.tasks(spec_id))["t0"]
    cluster.codegen.script(task.id, ok(delay=2.0), ok())
    started = await node.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    done = await cluster.wait(started.execution.id, stub=node.stub)
    assert done.status == pb.EXECUTION_STATUS_COMPLETED
    errors = cluster.sql(
        "SELECT error FROM orchestrator.task_attempts WHERE task_id = %s ORDER BY id", task.id
    )
    assert errors[0][0].startswith("DEADLINE_EXCEEDED") and errors[1][0] is None


async def test_low_confidence_and_failed_validation_go_to_review(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    cluster.codegen.script(t["a"].id, ok(confidence=0.4))
    cluster.codegen.script(t["d"].id, ok(confidence=0.9, passed=False))
    done = await cluster.wait((await execute(cluster, spec_id)).id)
    # Nothing failed: the run completes with what it could do; the rest waits for a human.
    assert done.status == pb.EXECUTION_STATUS_COMPLETED
    assert (done.tasks_completed, done.tasks_in_review) == (1, 2)
    queue = await cluster.stub.ListReviewQueue(pb.ListReviewQueueRequest(spec_id=spec_id))
    items = {i.task.key: i for i in queue.items}
    assert set(items) == {"a", "d"}
    assert items["a"].reason == "confidence 0.40 is under the review threshold 0.60"
    assert items["a"].confidence == pytest.approx(0.4) and len(items["a"].files) == 1
    assert items["d"].reason.startswith("validation did not pass: global-coding-style 0.40<0.70")
    t = await cluster.tasks(spec_id)
    assert t["b"].status == c.TASK_STATUS_PENDING  # waits for the review, not blocked
    assert cluster.node.metric("devmatrix_review_queue_size") == 2


async def test_cancellation_releases_running_tasks(cluster: Cluster) -> None:
    spec_id = await cluster.create(wide(6))
    cluster.codegen.default = ok(delay=30.0)
    started = await execute(cluster, spec_id, concurrency=2)
    for _ in range(200):
        tasks = (await cluster.tasks(spec_id)).values()
        if [x.type for x in tasks if x.status == c.TASK_STATUS_RUNNING].count(c.TASK_TYPE_TASK) == 2:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("two tasks never ran")
    cancelled = await cluster.stub.CancelExecution(pb.CancelExecutionRequest(execution_id=started.id))
    assert cancelled.execution.status == pb.EXECUTION_STATUS_CANCELLED
    tasks = [x for k, x in (await cluster.tasks(spec_id)).items() if k.startswith("t")]
    assert {x.status for x in tasks} == {c.TASK_STATUS_READY}
    reasons = [e["reason"] for x in tasks for e in cluster.audit(x.id) if e["action"] == "STATUS_CHANGE"]
    assert reasons.count("execution cancelled") == 2
    assert [e["action"] for e in cluster.audit(started.id)] == [
        "EXECUTION_START",
        "EXECUTION_CANCEL_REQUESTED",
        "EXECUTION_FINISH",
    ]
    spec = await cluster.stub.GetSpec(pb.GetSpecRequest(spec_id=spec_id))
    assert spec.spec.status == pb.SPEC_STATUS_CANCELLED
    # Cancelling again answers the same; a finished execution cannot be cancelled.
    again = await cluster.stub.CancelExecution(pb.CancelExecutionRequest(execution_id=started.id))
    assert again.execution.status == pb.EXECUTION_STATUS_CANCELLED
    cluster.codegen.default = ok()
    finished = await cluster.wait((await execute(cluster, spec_id)).id)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cluster.stub.CancelExecution(pb.CancelExecutionRequest(execution_id=finished.id))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    cluster.assert_audit_chains(spec_id)


async def test_execute_spec_is_idempotent_and_one_runs_per_spec(cluster: Cluster) -> None:
    spec_id = await cluster.create(wide(3))
    cluster.codegen.default = ok(delay=0.5)
    first = await execute(cluster, spec_id, request_id="run-1")
    replay = await execute(cluster, spec_id, request_id="run-1")
    assert replay.id == first.id
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await execute(cluster, spec_id, request_id="run-2")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first.id in raised.value.details()
    other = await cluster.create(wide(1))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await execute(cluster, other, request_id="run-1")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    done = await cluster.wait(first.id)
    after = await execute(cluster, spec_id, request_id="run-1")
    assert after.id == first.id and after.status == pb.EXECUTION_STATUS_COMPLETED
    assert done.tasks_completed == 3
    assert cluster.sql("SELECT count(*) FROM orchestrator.executions WHERE spec_id = %s", spec_id) == [(1,)]


async def test_execute_wave_runs_one_wave_synchronously(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    cluster.codegen.script(t["f"].id, ok(confidence=0.2))
    wave0 = await cluster.stub.ExecuteWave(pb.ExecuteWaveRequest(spec_id=spec_id, wave=0, request_id="w0"))
    assert (wave0.wave, wave0.succeeded, wave0.failed, wave0.in_review) == (0, 2, 0, 1)
    t = await cluster.tasks(spec_id)
    assert (t["b"].status, t["c"].status) == (c.TASK_STATUS_READY, c.TASK_STATUS_PENDING)
    replay = await cluster.stub.ExecuteWave(pb.ExecuteWaveRequest(spec_id=spec_id, wave=0, request_id="w0"))
    assert replay == wave0 and len(cluster.codegen.calls) == 3
    spec = await cluster.stub.GetSpec(pb.GetSpecRequest(spec_id=spec_id))
    assert spec.spec.status == pb.SPEC_STATUS_ANALYZED  # more waves to run
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cluster.stub.ExecuteWave(pb.ExecuteWaveRequest(spec_id=spec_id, wave=7))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "0..2" in raised.value.details()


async def test_codegen_down_fails_tasks_after_their_retries(cluster: Cluster) -> None:
    node = await cluster.start_node(codegen_addr=f"127.0.0.1:{free_port()}")
    spec_id = await cluster.create(chains())
    started = await node.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    done = await cluster.wait(started.execution.id, within=30, stub=node.stub)
    assert done.status == pb.EXECUTION_STATUS_FAILED
    assert done.tasks_failed == 3 and done.tasks_completed == 0  # a, d, f; the rest blocked
    errors = cluster.sql(
        """SELECT a.error FROM orchestrator.task_attempts a JOIN orchestrator.tasks t ON t.id = a.task_id
           WHERE t.spec_id = %s""",
        spec_id,
    )
    assert len(errors) == 9 and all(e.startswith("UNAVAILABLE") for (e,) in errors)


async def test_unknown_ids_and_bad_arguments(cluster: Cluster) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for call in (
        cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=missing)),
        cluster.stub.GetExecution(pb.GetExecutionRequest(execution_id=missing)),
        cluster.stub.CancelExecution(pb.CancelExecutionRequest(execution_id=missing)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    spec_id = await cluster.create(wide(1))
    for request in (
        pb.ExecuteSpecRequest(spec_id="x"),
        pb.ExecuteSpecRequest(spec_id=spec_id, concurrency=-1),
        pb.ExecuteSpecRequest(spec_id=spec_id, concurrency=1000),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await cluster.stub.ExecuteSpec(request)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_status_changes_have_one_audit_row_each(cluster: Cluster) -> None:
    """Counted from the events a watcher receives: each change streamed has its audit row."""
    spec_id = await cluster.create(chains())
    stream = cluster.stub.WatchProgress(pb.WatchProgressRequest(spec_id=spec_id))
    await asyncio.sleep(0.2)  # subscribed
    done = await cluster.wait((await execute(cluster, spec_id)).id)
    assert done.status == pb.EXECUTION_STATUS_COMPLETED
    events: Counter[tuple[str, int]] = Counter()
    expected = cluster.sql(
        """SELECT count(*) FROM orchestrator.audit_log
           WHERE spec_id = %s AND action IN ('STATUS_CHANGE', 'STATUS_ROLLUP')""",
        spec_id,
    )[0][0]
    while sum(events.values()) < expected:
        message = await asyncio.wait_for(stream.read(), timeout=5)
        events[(message.task_event.task_key, message.task_event.status)] += 1
    stream.cancel()
    completed = cluster.sql(
        """SELECT t.key, count(*) FROM orchestrator.audit_log a JOIN orchestrator.tasks t ON t.id = a.entity_id
           WHERE t.spec_id = %s AND a.changes ->> 'to' = 'COMPLETED' AND t.task_type = 'TASK' GROUP BY t.key""",
        spec_id,
    )
    assert dict(completed) == dict.fromkeys("abcdef", 1)
    assert all(events[(k, c.TASK_STATUS_COMPLETED)] == 1 for k in "abcdef")
    cluster.assert_audit_chains(spec_id)
