"""What `devmatrix run` reads and writes through the orchestrator: the project as the
database holds it (ListTaskFiles), compliance repairs of completed tasks
(RepairTaskFiles), the stored run summaries (RecordPipelineRun, ListPipelineRuns), and
the learning an execution leaves behind (estimates, complexity snapshot, retrospective)."""

from __future__ import annotations

import json
import uuid

import grpc
import pytest

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.execution.conftest import Cluster
from tests.execution.fake_codegen import fail, ok
from tests.execution.plans import chains, wide


async def executed(cluster: Cluster, plan: str) -> tuple[str, pb.Execution, dict[str, c.Task]]:
    spec_id = await cluster.create(plan)
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    done = await cluster.wait(started.execution.id)
    return spec_id, done, await cluster.tasks(spec_id)


async def rpc_error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value


async def test_list_task_files_is_the_project_of_the_completed_tasks(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    cluster.codegen.script(t["d"].id, fail(grpc.StatusCode.FAILED_PRECONDITION, "needs a key"))
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    await cluster.wait(started.execution.id)
    listing = await cluster.stub.ListTaskFiles(pb.ListTaskFilesRequest(spec_id=spec_id))
    by_key = {f.task_key: f for f in listing.files}
    # d failed and e is blocked behind it: no files of theirs, and both counted unfinished.
    assert set(by_key) == {"a", "b", "c", "f"}
    assert listing.tasks_unfinished == 2
    assert by_key["a"].file.path == f"app/t_{t['a'].id[:8]}_0.py"
    assert by_key["a"].task_id == t["a"].id and t["a"].id in by_key["a"].file.content
    assert [f.file.path for f in listing.files] == sorted(f.file.path for f in listing.files)


async def test_list_task_files_bad_input(cluster: Cluster) -> None:
    error = await rpc_error(cluster.stub.ListTaskFiles(pb.ListTaskFilesRequest(spec_id="nope")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "spec_id" in error.details()
    missing = str(uuid.uuid4())
    error = await rpc_error(cluster.stub.ListTaskFiles(pb.ListTaskFilesRequest(spec_id=missing)))
    assert error.code() == grpc.StatusCode.NOT_FOUND and missing in error.details()


def repair(task_id: str, **kw: object) -> pb.RepairTaskFilesRequest:
    fields: dict[str, object] = {
        "task_id": task_id,
        "files": [c.GeneratedFile(path="app/fixed.py", content='"""Fixed."""\n', language="python")],
        "reason": "compliance 0.5 under 0.80",
        "score_before": 0.5,
        "score_after": 0.9,
        **kw,
    }
    return pb.RepairTaskFilesRequest(**fields)  # type: ignore[arg-type]


async def test_repair_replaces_a_completed_tasks_files_with_an_audit_row(cluster: Cluster) -> None:
    spec_id, _, t = await executed(cluster, wide(2))
    task = t["t0"]
    repaired = await cluster.stub.RepairTaskFiles(repair(task.id, request_id="fix-1"))
    assert repaired.task.status == c.TASK_STATUS_COMPLETED
    # The same request again changes nothing more.
    await cluster.stub.RepairTaskFiles(repair(task.id, request_id="fix-1"))
    files = cluster.sql("SELECT path, content FROM orchestrator.task_files WHERE task_id = %s", task.id)
    assert files == [("app/fixed.py", '"""Fixed."""\n')]
    rows = [r for r in cluster.audit(task.id) if r["action"] == "FILES_REPAIRED"]
    assert len(rows) == 1
    assert (rows[0]["score_before"], rows[0]["score_after"], rows[0]["files"]) == (0.5, 0.9, ["app/fixed.py"])
    reports = (await cluster.stub.ListReports(pb.ListReportsRequest(task_id=task.id))).reports
    verification = [json.loads(r.content_json) for r in reports if r.type == pb.REPORT_TYPE_VERIFICATION]
    assert len(verification) == 1 and verification[0]["reason"] == "compliance 0.5 under 0.80"
    # The other task's files are untouched and the status chain is intact.
    assert cluster.sql("SELECT count(*) FROM orchestrator.task_files WHERE task_id = %s", t["t1"].id) == [
        (1,)
    ]
    cluster.assert_audit_chains(spec_id)


async def test_repair_bad_input_changes_nothing(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    cluster.codegen.script(t["f"].id, ok(confidence=0.2))
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    await cluster.wait(started.execution.id)
    t = await cluster.tasks(spec_id)
    assert t["f"].status == c.TASK_STATUS_NEEDS_REVIEW
    cases = [
        (repair(t["f"].id), grpc.StatusCode.FAILED_PRECONDITION, "only COMPLETED tasks"),
        (repair(t["a"].id, score_after=1.5), grpc.StatusCode.INVALID_ARGUMENT, "score_after"),
        (repair(t["a"].id, files=[]), grpc.StatusCode.INVALID_ARGUMENT, "files"),
        (
            repair(t["a"].id, files=[c.GeneratedFile(path="../escape.py", content="x")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "escape.py",
        ),
        (repair(str(uuid.uuid4())), grpc.StatusCode.NOT_FOUND, "not found"),
    ]
    before = cluster.sql("SELECT task_id::text, path, content FROM orchestrator.task_files ORDER BY 1, 2")
    for request, code, words in cases:
        error = await rpc_error(cluster.stub.RepairTaskFiles(request))
        assert error.code() == code and words in error.details(), (code, error.details())
    assert (
        cluster.sql("SELECT task_id::text, path, content FROM orchestrator.task_files ORDER BY 1, 2")
        == before
    )
    assert cluster.sql("SELECT count(*) FROM orchestrator.audit_log WHERE action = 'FILES_REPAIRED'") == [
        (0,)
    ]


def pipeline_run(spec_id: str, **kw: object) -> pb.PipelineRun:
    fields: dict[str, object] = {
        "spec_id": spec_id,
        "passed": True,
        "compliance": 0.97,
        "validation": [
            pb.ValidationLevel(level="atomic", passed=True, checked=10),
            pb.ValidationLevel(level="system", passed=False, checked=12, failed=2, detail="2 failed"),
        ],
        "health": pb.HealthCheck(passed=True, installed=True, endpoints_checked=3, endpoints_ok=3),
        "reuse_rate": 0.25,
        "patterns_stored": 4,
        **kw,
    }
    return pb.PipelineRun(**fields)  # type: ignore[arg-type]


async def test_record_pipeline_run_stores_lists_and_counts_once(cluster: Cluster) -> None:
    spec_id = await cluster.create(wide(1))
    node = cluster.node
    first = await cluster.stub.RecordPipelineRun(
        pb.RecordPipelineRunRequest(request_id="run-1", run=pipeline_run(spec_id))
    )
    replay = await cluster.stub.RecordPipelineRun(
        pb.RecordPipelineRunRequest(request_id="run-1", run=pipeline_run(spec_id, compliance=0.1))
    )
    second = await cluster.stub.RecordPipelineRun(
        pb.RecordPipelineRunRequest(run=pipeline_run(spec_id, passed=False, compliance=0.5))
    )
    assert replay.run.id == first.run.id and replay.run.compliance == 0.97
    assert first.run.recorded_at.seconds > 0 and first.run.validation[1].detail == "2 failed"
    listed = (await cluster.stub.ListPipelineRuns(pb.ListPipelineRunsRequest(spec_id=spec_id))).runs
    assert [r.id for r in listed] == [second.run.id, first.run.id]
    assert listed[1].health.endpoints_ok == 3 and listed[1].patterns_stored == 4
    assert node.metric("devmatrix_pipeline_runs_total", result="passed") == 1
    assert node.metric("devmatrix_pipeline_runs_total", result="failed") == 1
    assert node.metric("devmatrix_pipeline_validation_total", level="system", result="failed") == 2
    assert node.metric("devmatrix_pipeline_validation_total", level="atomic", result="passed") == 2
    assert node.metric("devmatrix_pipeline_health_checks_total", result="passed") == 2
    assert node.metric("devmatrix_pipeline_compliance_count") == 2
    assert node.metric("devmatrix_pipeline_reuse_rate") == 0.25


async def test_record_pipeline_run_bad_input(cluster: Cluster) -> None:
    spec_id = await cluster.create(wide(1))
    cases = [
        (pipeline_run(spec_id, compliance=1.5), grpc.StatusCode.INVALID_ARGUMENT, "run.compliance"),
        (pipeline_run(spec_id, reuse_rate=float("nan")), grpc.StatusCode.INVALID_ARGUMENT, "run.reuse_rate"),
        (
            pipeline_run(spec_id, validation=[pb.ValidationLevel(level="galactic")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "galactic",
        ),
        (pipeline_run("not-a-uuid"), grpc.StatusCode.INVALID_ARGUMENT, "run.spec_id"),
        (pipeline_run(str(uuid.uuid4())), grpc.StatusCode.NOT_FOUND, "not found"),
    ]
    for run, code, words in cases:
        error = await rpc_error(cluster.stub.RecordPipelineRun(pb.RecordPipelineRunRequest(run=run)))
        assert error.code() == code and words in error.details(), (code, error.details())
    assert cluster.sql("SELECT count(*) FROM orchestrator.pipeline_runs") == [(0,)]
    assert cluster.node.metric("devmatrix_pipeline_runs_total", result="passed") == 0


async def test_an_execution_leaves_estimates_a_snapshot_and_a_retrospective(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    cluster.codegen.script(t["d"].id, fail(grpc.StatusCode.UNAVAILABLE, "codegen is down"))
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    done = await cluster.wait(started.execution.id)
    assert done.tasks_completed == 4 and done.tasks_failed == 1
    estimated = cluster.sql(
        """SELECT t.key FROM orchestrator.estimates e JOIN orchestrator.tasks t ON t.id = e.task_id
           WHERE e.spec_id = %s AND e.actual_seconds >= 0 ORDER BY 1""",
        spec_id,
    )
    # Completed tasks only: the failed one and the one blocked behind it have no actual effort.
    assert [k for (k,) in estimated] == ["a", "b", "c", "f"]
    retrospectives = cluster.sql(
        "SELECT execution_id::text, summary FROM orchestrator.retrospectives WHERE spec_id = %s", spec_id
    )
    assert len(retrospectives) == 1 and retrospectives[0][0] == done.id
    summary = retrospectives[0][1]
    assert summary["by_status"] == {"BLOCKED": 1, "COMPLETED": 4, "FAILED": 1}
    assert summary["failed"][0]["key"] == "d" and "codegen is down" in summary["failed"][0]["error"]
    assert cluster.sql(
        "SELECT task_count FROM orchestrator.complexity_snapshots WHERE spec_id = %s", spec_id
    ) == [(6,)]
    # Every attempt of d was a transient failure: its retries ran out.
    assert cluster.node.metric("devmatrix_execution_retries_exhausted_total") == 1
