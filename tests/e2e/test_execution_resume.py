"""kill -9 of the orchestrator in the middle of an execution, as an operator would see it:
`devmatrix up` stops the mesh; the next `devmatrix up` on the same data dir resumes the
execution (the dead process's leases expire, its tasks run again) and finishes it. No
task completes twice and every task's audit trail is one unbroken chain."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import grpc
import pytest

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from tests.e2e.cli_support import TASK_API
from tests.e2e.mesh_support import child_processes, running_mesh


def executable(stub: orchestrator_pb2_grpc.OrchestratorServiceStub, spec_id: str) -> list[c.Task]:
    request = pb.GetTaskTreeRequest(spec_id=spec_id, type=c.TASK_TYPE_TASK, page_size=2000)
    return list(stub.GetTaskTree(request, timeout=10).tasks)


def test_a_killed_orchestrator_resumes_its_execution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEASE_SECONDS", "3")
    monkeypatch.setenv("EXECUTION_CONCURRENCY", "2")
    with running_mesh(tmp_path) as mesh, grpc.insecure_channel(mesh.addr("orchestrator")) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        spec = stub.CreateSpec(pb.CreateSpecRequest(markdown=TASK_API.read_text("utf-8")), timeout=30).spec
        # The planning tasks need an LLM; a person did them.
        for task in executable(stub, spec.id):
            if task.key.startswith("P1."):
                stub.UpdateTaskStatus(
                    pb.UpdateTaskStatusRequest(task_id=task.id, status=c.TASK_STATUS_SKIPPED), timeout=10
                )
        execution = stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec.id), timeout=30).execution
        deadline = time.monotonic() + 120
        while True:
            tasks = executable(stub, spec.id)
            running = {t.id for t in tasks if t.status == c.TASK_STATUS_RUNNING}
            completed = [t for t in tasks if t.status == c.TASK_STATUS_COMPLETED]
            if len(completed) >= 3 and running:
                break
            assert time.monotonic() < deadline, "the execution never got going"
            time.sleep(0.05)
        (pid,) = [p for p, cmd in child_processes(mesh.process.pid).items() if "services.orchestrator" in cmd]
        os.kill(pid, signal.SIGKILL)
        # `devmatrix up` notices and stops the rest of the mesh.
        assert mesh.process.wait(timeout=60) == 1
    assert "orchestrator exited" in mesh.stderr_path.read_text(errors="replace")

    with running_mesh(tmp_path) as mesh, grpc.insecure_channel(mesh.addr("orchestrator")) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        deadline = time.monotonic() + 300
        while True:
            got = stub.GetExecution(pb.GetExecutionRequest(execution_id=execution.id), timeout=10).execution
            if got.status != pb.EXECUTION_STATUS_RUNNING:
                break
            assert time.monotonic() < deadline, "the resumed execution did not finish"
            time.sleep(0.5)
        assert got.status == pb.EXECUTION_STATUS_COMPLETED, got
        tasks = executable(stub, spec.id)
        structured = [t for t in tasks if not t.key.startswith("P1.")]
        assert got.tasks_completed + got.tasks_in_review == len(structured)
        taken_over = 0
        for task in tasks:
            entries = stub.GetAuditLog(
                pb.GetAuditLogRequest(entity_id=task.id, page_size=2000), timeout=10
            ).entries
            changes = [json.loads(e.changes_json) for e in entries]
            current = changes[0]["status"]  # CREATE
            for change in changes[1:]:
                assert change["from"] == current, (task.key, changes)
                current = change["to"]
            assert current == c.TaskStatus.Name(task.status).removeprefix("TASK_STATUS_"), task.key
            assert [ch["to"] for ch in changes[1:]].count("COMPLETED") <= 1, task.key
            if task.id in running:
                taken_over += any(ch.get("reason", "").startswith("lease expired, held by") for ch in changes)
        assert taken_over >= 1  # a task the dead process held was taken over, not lost
