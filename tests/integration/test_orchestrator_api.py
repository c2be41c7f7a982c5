"""The orchestrator over real gRPC on a real PostgreSQL: the good paths."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import grpc
import psycopg
import pytest

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.server import start_server
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from services.orchestrator.app import build
from tests.fixtures.mesh import Orchestrator, settings_for
from tests.integration import plans
from tests.integration.rpc import precondition_violations

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "specs" / "task_api.md"


async def create(o: Orchestrator, plan_json: str, request_id: str = "") -> pb.CreateSpecResponse:
    return await o.stub.CreateSpec(pb.CreateSpecRequest(plan_json=plan_json, request_id=request_id))


async def tasks_by_key(o: Orchestrator, spec_id: str) -> dict[str, c.Task]:
    tree = await o.stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec_id))
    return {t.key: t for t in tree.tasks}


async def set_status(o: Orchestrator, task: c.Task, status: int, **kw: object) -> pb.UpdateTaskStatusResponse:
    return await o.stub.UpdateTaskStatus(pb.UpdateTaskStatusRequest(task_id=task.id, status=status, **kw))


async def test_markdown_spec_is_stored_planned_and_analyzed(orchestrator: Orchestrator) -> None:
    created = await orchestrator.stub.CreateSpec(pb.CreateSpecRequest(markdown=EXAMPLE.read_text()))
    assert created.created
    assert created.spec.format == pb.SPEC_FORMAT_MARKDOWN
    assert created.requirement_count > 0
    spec = await orchestrator.stub.GetSpec(pb.GetSpecRequest(spec_id=created.spec.id))
    assert len(spec.requirements) == created.requirement_count
    categories = {r.category for r in spec.requirements}
    assert {pb.REQUIREMENT_CATEGORY_ENTITY, pb.REQUIREMENT_CATEGORY_ENDPOINT} <= categories

    tasks = list((await orchestrator.stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=created.spec.id))).tasks)
    assert len(tasks) == created.spec.task_count
    by_id = {t.id: t for t in tasks}
    phases = [t for t in tasks if t.type == c.TASK_TYPE_PHASE]
    assert [p.phase for p in phases] == [1, 2, 3, 4, 5]
    for task in tasks:
        if task.type != c.TASK_TYPE_PHASE:
            parent = by_id[task.parent_id]
            assert parent.position < task.position  # hierarchy order: parents first
            assert parent.type == task.type - 1

    analysis = await orchestrator.stub.AnalyzeDependencies(
        pb.AnalyzeDependenciesRequest(spec_id=created.spec.id)
    )
    wave_of = {i: w.number for w in analysis.waves for i in w.task_ids}
    executable = {t.id for t in tasks if t.type == c.TASK_TYPE_TASK}
    assert set(wave_of) == executable
    assert len(analysis.waves) >= 3
    after = {
        t.id: t
        for t in (await orchestrator.stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=created.spec.id))).tasks
    }
    for task_id in executable:
        task = after[task_id]
        assert task.wave == wave_of[task_id]
        for dep in task.depends_on:
            assert wave_of[dep] < task.wave
        if task.depends_on:
            assert max(wave_of[d] for d in task.depends_on) == task.wave - 1
        else:
            assert task.wave == 0
    # The critical path is a dependency chain whose efforts add up.
    path = list(analysis.critical_path)
    for earlier, later in itertools.pairwise(path):
        assert earlier in after[later].depends_on
    assert sum(after[i].effort for i in path) == analysis.critical_path_effort
    assert analysis.total_effort == sum(after[i].effort for i in executable)
    assert analysis.ideal_speedup == pytest.approx(
        analysis.total_effort / analysis.critical_path_effort, abs=1e-3
    )
    assert set(analysis.ready_task_ids) == set(analysis.waves[0].task_ids)


async def test_task_tree_pages_and_filters(orchestrator: Orchestrator) -> None:
    created = await orchestrator.stub.CreateSpec(pb.CreateSpecRequest(markdown=EXAMPLE.read_text()))
    spec_id = created.spec.id
    seen: list[str] = []
    token = ""
    while True:
        page = await orchestrator.stub.GetTaskTree(
            pb.GetTaskTreeRequest(spec_id=spec_id, page_size=7, page_token=token)
        )
        assert len(page.tasks) <= 7
        assert page.total_size == created.spec.task_count
        seen += [t.id for t in page.tasks]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == created.spec.task_count

    only_tasks = await orchestrator.stub.GetTaskTree(
        pb.GetTaskTreeRequest(spec_id=spec_id, type=c.TASK_TYPE_TASK)
    )
    assert only_tasks.tasks and all(t.type == c.TASK_TYPE_TASK for t in only_tasks.tasks)
    ready = await orchestrator.stub.GetTaskTree(
        pb.GetTaskTreeRequest(spec_id=spec_id, status=c.TASK_STATUS_READY)
    )
    assert ready.tasks and all(t.status == c.TASK_STATUS_READY and not t.depends_on for t in ready.tasks)
    await orchestrator.stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec_id))
    wave1 = await orchestrator.stub.GetTaskTree(
        pb.GetTaskTreeRequest(spec_id=spec_id, has_wave=True, wave=1, type=c.TASK_TYPE_TASK)
    )
    assert wave1.tasks and all(t.wave == 1 for t in wave1.tasks)


async def test_get_task_returns_its_neighbourhood(orchestrator: Orchestrator) -> None:
    spec = (await create(orchestrator, plans.diamond())).spec
    t = await tasks_by_key(orchestrator, spec.id)
    got = await orchestrator.stub.GetTask(pb.GetTaskRequest(task_id=t["d"].id))
    assert got.task.key == "d"
    assert got.parent.key == "G"
    assert [x.key for x in got.dependencies] == ["b", "c"]
    assert list(got.dependents) == []
    root = await orchestrator.stub.GetTask(pb.GetTaskRequest(task_id=t["a"].id))
    assert [x.key for x in root.dependents] == ["b", "c"] and not root.dependencies
    phase = await orchestrator.stub.GetTask(pb.GetTaskRequest(task_id=t["P"].id))
    assert not phase.HasField("parent") and not phase.dependencies


async def test_create_spec_is_idempotent_by_request_id(orchestrator: Orchestrator) -> None:
    first = await create(orchestrator, plans.diamond(), request_id="req-1")
    again = await create(orchestrator, plans.diamond(), request_id="req-1")
    assert first.created and not again.created
    assert again.spec.id == first.spec.id
    listed = await orchestrator.stub.ListSpecs(pb.ListSpecsRequest())
    assert [s.id for s in listed.specs] == [first.spec.id]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create(orchestrator, plans.cyclic(), request_id="req-1")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first.spec.id in raised.value.details()


async def test_concurrent_duplicates_store_one_spec(orchestrator: Orchestrator) -> None:
    results = await asyncio.gather(
        *(create(orchestrator, plans.diamond(), request_id="same") for _ in range(5))
    )
    assert len({r.spec.id for r in results}) == 1
    assert sum(r.created for r in results) == 1


async def test_status_lifecycle_unblocks_dependents_and_audits(orchestrator: Orchestrator) -> None:
    spec = (await create(orchestrator, plans.diamond())).spec
    t = await tasks_by_key(orchestrator, spec.id)
    assert t["a"].status == c.TASK_STATUS_READY
    assert t["b"].status == c.TASK_STATUS_PENDING
    assert set(t["d"].depends_on) == {t["b"].id, t["c"].id}

    await set_status(orchestrator, t["a"], c.TASK_STATUS_RUNNING, assigned_to="backend-agent")
    done = await set_status(orchestrator, t["a"], c.TASK_STATUS_COMPLETED, reason="tests pass")
    assert done.previous_status == c.TASK_STATUS_RUNNING
    assert set(done.unblocked_task_ids) == {t["b"].id, t["c"].id}
    assert done.task.assigned_to == "backend-agent"
    t = await tasks_by_key(orchestrator, spec.id)
    assert t["b"].status == t["c"].status == c.TASK_STATUS_READY
    assert t["d"].status == c.TASK_STATUS_PENDING
    assert t["G"].status == c.TASK_STATUS_RUNNING  # rolled up from its tasks
    assert t["P"].status == c.TASK_STATUS_RUNNING

    for key in ("b", "c"):
        await set_status(orchestrator, t[key], c.TASK_STATUS_RUNNING)
        await set_status(orchestrator, t[key], c.TASK_STATUS_COMPLETED)
    await set_status(orchestrator, t["d"], c.TASK_STATUS_SKIPPED)
    t = await tasks_by_key(orchestrator, spec.id)
    assert t["G"].status == t["P"].status == c.TASK_STATUS_COMPLETED

    log = await orchestrator.stub.GetAuditLog(pb.GetAuditLogRequest(entity_id=t["a"].id))
    changes = [json.loads(e.changes_json) for e in log.entries]
    assert [e.action for e in log.entries] == ["CREATE", "STATUS_CHANGE", "STATUS_CHANGE"]
    assert [(ch["from"], ch["to"]) for ch in changes[1:]] == [("READY", "RUNNING"), ("RUNNING", "COMPLETED")]
    assert changes[2]["reason"] == "tests pass"

    # Every status change of every task has exactly one audit row.
    with psycopg.connect(orchestrator.settings.database_url) as conn:
        rows = conn.execute(
            """SELECT t.key, count(a.*) FILTER (WHERE a.action IN ('STATUS_CHANGE', 'STATUS_ROLLUP'))
               FROM orchestrator.tasks t LEFT JOIN orchestrator.audit_log a ON a.entity_id = t.id
               WHERE t.spec_id = %s GROUP BY t.key""",
            (spec.id,),
        ).fetchall()
    assert dict(rows) == {"a": 2, "b": 3, "c": 3, "d": 2, "P": 2, "G": 2, "d1": 0, "d2": 0}


async def test_concurrent_changes_in_one_group_roll_up_correctly(orchestrator: Orchestrator) -> None:
    tasks = [
        {"key": "P", "type": "PHASE", "name": "Implementation", "phase": 3},
        {"key": "G", "type": "TASK_GROUP", "parent": "P", "name": "Wide"},
        *({"key": f"t{i}", "type": "TASK", "parent": "G", "name": f"Task {i}"} for i in range(12)),
    ]
    spec = (await create(orchestrator, plans.plan(tasks))).spec
    t = await tasks_by_key(orchestrator, spec.id)
    members = [t[f"t{i}"] for i in range(12)]
    for status in (c.TASK_STATUS_RUNNING, c.TASK_STATUS_COMPLETED):
        await asyncio.gather(*(set_status(orchestrator, m, status) for m in members))
    after = await tasks_by_key(orchestrator, spec.id)
    assert after["G"].status == after["P"].status == c.TASK_STATUS_COMPLETED
    log = await orchestrator.stub.GetAuditLog(pb.GetAuditLogRequest(entity_id=t["G"].id))
    assert [json.loads(e.changes_json)["to"] for e in log.entries[1:]] == ["RUNNING", "COMPLETED"]


async def test_illegal_transitions_change_nothing(orchestrator: Orchestrator) -> None:
    spec = (await create(orchestrator, plans.diamond())).spec
    t = await tasks_by_key(orchestrator, spec.id)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_status(orchestrator, t["a"], c.TASK_STATUS_COMPLETED)  # READY -> COMPLETED skips RUNNING
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "READY -> COMPLETED" in raised.value.details()
    assert ("STATUS_TRANSITION", "a") in precondition_violations(raised.value)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_status(orchestrator, t["d"], c.TASK_STATUS_RUNNING)  # dependencies not done
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert {s for k, s in precondition_violations(raised.value) if k == "DEPENDENCY_NOT_DONE"} == {"b", "c"}

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_status(orchestrator, t["G"], c.TASK_STATUS_COMPLETED)  # derived status
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    await set_status(orchestrator, t["a"], c.TASK_STATUS_RUNNING)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_status(orchestrator, t["a"], c.TASK_STATUS_RUNNING, expected_version=1)
    assert raised.value.code() == grpc.StatusCode.ABORTED

    after = await tasks_by_key(orchestrator, spec.id)
    assert after["a"].status == c.TASK_STATUS_RUNNING and after["a"].version == 2
    assert after["d"].status == c.TASK_STATUS_PENDING and after["d"].version == 1
    log = await orchestrator.stub.GetAuditLog(pb.GetAuditLogRequest(entity_id=t["d"].id))
    assert [e.action for e in log.entries] == ["CREATE"]


async def test_status_update_is_idempotent_by_request_id(orchestrator: Orchestrator) -> None:
    spec = (await create(orchestrator, plans.diamond())).spec
    t = await tasks_by_key(orchestrator, spec.id)
    first = await set_status(orchestrator, t["a"], c.TASK_STATUS_RUNNING, request_id="r-42")
    # The retry arrives after the task moved on: it must not be applied a second time.
    await set_status(orchestrator, t["a"], c.TASK_STATUS_COMPLETED)
    replay = await set_status(orchestrator, t["a"], c.TASK_STATUS_RUNNING, request_id="r-42")
    assert first.task.status == c.TASK_STATUS_RUNNING
    assert replay.task.status == c.TASK_STATUS_COMPLETED
    log = await orchestrator.stub.GetAuditLog(pb.GetAuditLogRequest(entity_id=t["a"].id))
    assert [e.action for e in log.entries] == ["CREATE", "STATUS_CHANGE", "STATUS_CHANGE"]


async def test_progress_by_phase_wave_and_agent(orchestrator: Orchestrator) -> None:
    spec = (await create(orchestrator, plans.diamond())).spec
    await orchestrator.stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec.id))
    t = await tasks_by_key(orchestrator, spec.id)
    await set_status(orchestrator, t["a"], c.TASK_STATUS_RUNNING, assigned_to="generalist")
    await set_status(orchestrator, t["a"], c.TASK_STATUS_COMPLETED)
    await set_status(orchestrator, t["b"], c.TASK_STATUS_RUNNING, assigned_to="database")
    progress = await orchestrator.stub.GetProgress(pb.GetProgressRequest(spec_id=spec.id))
    assert progress.spec_status == pb.SPEC_STATUS_ANALYZED
    o = progress.overall
    assert (o.total, o.completed, o.running, o.ready, o.pending) == (4, 1, 1, 1, 1)
    assert o.percent_complete == 25.0
    assert (o.effort_total, o.effort_completed) == (11, 1)
    assert [(p.phase, p.counts.total) for p in progress.phases] == [(3, 4)]
    assert [(w.wave, w.counts.total, w.counts.completed) for w in progress.waves] == [
        (0, 1, 1),
        (1, 2, 0),
        (2, 1, 0),
    ]
    assert progress.current_wave == 1
    assert {a.agent: (a.counts.completed, a.counts.running) for a in progress.agents} == {
        "generalist": (1, 0),
        "database": (0, 1),
    }


async def test_watch_progress_streams_events_to_every_subscriber(orchestrator: Orchestrator) -> None:
    spec = (await create(orchestrator, plans.diamond())).spec
    t = await tasks_by_key(orchestrator, spec.id)
    streams = [
        orchestrator.stub.WatchProgress(pb.WatchProgressRequest(spec_id=spec.id, include_snapshot=True))
        for _ in range(3)
    ]
    for stream in streams:
        first = await stream.read()
        assert first.WhichOneof("event") == "snapshot"
        assert first.snapshot.overall.total == 4
    await set_status(orchestrator, t["a"], c.TASK_STATUS_RUNNING)
    await set_status(orchestrator, t["a"], c.TASK_STATUS_COMPLETED)
    for stream in streams:
        events = []
        while len(events) < 6:  # a RUNNING, G/P roll-up, a COMPLETED, b and c unblocked
            message = await asyncio.wait_for(stream.read(), timeout=5)
            events.append((message.task_event.task_key, message.task_event.status))
        assert events[0] == ("a", c.TASK_STATUS_RUNNING)
        assert ("a", c.TASK_STATUS_COMPLETED) in events
        assert {("b", c.TASK_STATUS_READY), ("c", c.TASK_STATUS_READY)} <= set(events)
        stream.cancel()


async def test_a_restarted_orchestrator_rebuilds_its_in_process_graph(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path)
    first = await start_server(build, settings, "orchestrator", port=0, metrics_port=0)
    try:
        async with open_channel(first.address, 10.0) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            spec = (await stub.CreateSpec(pb.CreateSpecRequest(plan_json=plans.diamond()))).spec
            before = await stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec.id))
    finally:
        await first.stop(0)
    second = await start_server(build, settings, "orchestrator", port=0, metrics_port=0)
    try:
        async with open_channel(second.address, 10.0) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            tree = (await stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec.id))).tasks
            a = next(t for t in tree if t.key == "a")
            await stub.UpdateTaskStatus(
                pb.UpdateTaskStatusRequest(
                    task_id=a.id, status=c.TASK_STATUS_RUNNING, assigned_to="backend-agent"
                )
            )
            after = await stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec.id))
            graph = second.app.state.graph
            assert (await graph.get_task(a.id)).status == "RUNNING"
            assert await graph.assigned_agent(a.id) == ("backend-agent", "")
    finally:
        await second.stop(0)
    assert [list(w.task_ids) for w in after.waves] == [list(w.task_ids) for w in before.waves]
    assert list(after.critical_path) == list(before.critical_path)


async def test_reports_are_stored_per_task(orchestrator: Orchestrator) -> None:
    spec = (await create(orchestrator, plans.diamond())).spec
    t = await tasks_by_key(orchestrator, spec.id)
    added = await orchestrator.stub.AddReport(
        pb.AddReportRequest(
            task_id=t["a"].id, type=pb.REPORT_TYPE_IMPLEMENTATION, content_json='{"files": 2}'
        )
    )
    listed = await orchestrator.stub.ListReports(pb.ListReportsRequest(task_id=t["a"].id))
    assert [r.id for r in listed.reports] == [added.report.id]
    assert json.loads(listed.reports[0].content_json) == {"files": 2}
