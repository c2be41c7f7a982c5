"""The `devmatrix` command as a user runs it: real processes, no stdin, the embedded
PostgreSQL in a temporary data dir, and one `devmatrix up` mesh shared by the module
(the `mesh` fixture of conftest.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devmatrix.runtime.config import SERVICE_NAMES
from devmatrix.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc
from tests.e2e.cli_support import (
    CYCLIC_PLAN,
    FULL_NAMES,
    ROOT,
    SHUTDOWN_TIMEOUT_S,
    SMALL_PLAN,
    WIDE,
    assert_one_line_error,
    check_plan_document,
    clean_env,
    devmatrix,
)
from tests.e2e.mesh_support import Mesh, alive, child_processes


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def health(address: str, service: str = "") -> int:
    with grpc.insecure_channel(address) as channel:
        return (
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            .status
        )


def json_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_every_service_of_the_mesh_is_serving(mesh: Mesh) -> None:
    for name in SERVICE_NAMES:
        address = mesh.addr(name)
        assert health(address) == health_pb2.HealthCheckResponse.SERVING, name
        assert health(address, FULL_NAMES[name]) == health_pb2.HealthCheckResponse.SERVING, name
        # Each service serves its own /metrics; `up` has been health-checking all of them.
        url = f"http://127.0.0.1:{mesh.metrics_ports[name]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        assert 'grpc_server_started_total{grpc_method="Check",grpc_service="grpc.health.v1.Health"' in text
    text = mesh.stderr_path.read_text()
    for name in SERVICE_NAMES:  # the table of the mesh names every service and its address
        assert name in text and mesh.addr(name) in text


def test_plan_and_status_against_the_mesh(mesh: Mesh, tmp_path: Path) -> None:
    client_dir = tmp_path / "client"
    planned = devmatrix("plan", str(SMALL_PLAN), "--json", env=mesh.client_env(client_dir))
    assert planned.code == 0, planned.stderr
    doc = planned.json()
    by_id = check_plan_document(doc)
    source = json.loads(SMALL_PLAN.read_text())
    assert doc["title"] == source["spec"]["title"]
    assert sorted(t["key"] for t in by_id.values()) == sorted(t["key"] for t in source["tasks"])
    by_key = {t["key"]: t for t in by_id.values()}
    assert by_id[by_key["setup.db"]["parent"]]["key"] == "setup"
    # A group dependency (api depends on models) reaches the group's tasks.
    assert by_key["models.note"]["id"] in by_key["api.list"]["depends_on"]
    assert not client_dir.exists()  # the remote mesh was used, no embedded one started
    spec_id = doc["spec_id"]
    executable = [t for t in by_id.values() if t["type"] == "TASK"]

    status = devmatrix("status", spec_id, "--json", env=mesh.client_env(client_dir))
    assert status.code == 0, status.stderr
    progress = status.json()
    assert progress["specId"] == spec_id
    assert progress["overall"]["total"] == len(executable)
    assert progress["overall"]["effortTotal"] == sum(t["effort"] for t in executable)
    assert progress["overall"]["ready"] == len(doc["waves"][0])
    assert progress["overall"]["percentComplete"] == 0
    assert [p["phase"] for p in progress["phases"]] == [1, 3, 4]
    assert sum(p["counts"]["total"] for p in progress["phases"]) == len(executable)

    text = devmatrix("status", spec_id, env=mesh.client_env(client_dir, COLUMNS=WIDE))
    assert text.code == 0, text.stderr
    assert f"Spec {spec_id}" in text.stdout
    overall = next(line for line in text.stdout.splitlines() if "overall" in line)
    assert f" {len(executable)} " in overall
    for phase in progress["phases"]:
        assert f"phase {phase['phase']} {phase['name']}" in text.stdout
    for number in range(len(doc["waves"])):
        assert f"wave {number} " in text.stdout


def test_watch_prints_status_changes_as_they_happen(mesh: Mesh, tmp_path: Path) -> None:
    env = mesh.client_env(tmp_path / "client")
    doc = devmatrix("plan", str(SMALL_PLAN), "--json", env=env).json()
    first = next(t for t in doc["tasks"] if t["id"] == doc["waves"][0][0])
    watcher = subprocess.Popen(
        [sys.executable, "-m", "devmatrix.cli.main", "watch", doc["spec_id"]],
        cwd=ROOT,
        env=dict(env, COLUMNS=WIDE),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        header = watcher.stdout.readline()
        assert header.startswith(f"watching spec {doc['spec_id']}: 0/")
        with grpc.insecure_channel(mesh.addr("orchestrator")) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            stub.UpdateTaskStatus(
                orchestrator_pb2.UpdateTaskStatusRequest(
                    task_id=first["id"], status=common_pb2.TASK_STATUS_RUNNING, reason="picked up"
                ),
                timeout=10,
                metadata=(("x-devmatrix-user", "agent-7"),),
            )
        line = watcher.stdout.readline()
        assert f"{first['key']} READY -> RUNNING (picked up) by agent-7" in line
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=15)
    assert watcher.returncode == 130
    assert "Traceback" not in (watcher.stderr.read() if watcher.stderr else "")


def test_empty_spec_is_invalid_argument(mesh: Mesh, tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("")
    result = devmatrix("plan", str(empty), env=mesh.client_env(tmp_path / "data"))
    assert_one_line_error(result, 1, "INVALID_ARGUMENT")


@pytest.mark.parametrize("as_json", [False, True])
def test_cyclic_plan_names_the_cycle(mesh: Mesh, tmp_path: Path, as_json: bool) -> None:
    args = ["plan", str(CYCLIC_PLAN)] + (["--json"] if as_json else [])
    result = devmatrix(*args, env=mesh.client_env(tmp_path / "data"))
    line = assert_one_line_error(result, 1, "FAILED_PRECONDITION")
    for key in ("core.a", "core.b", "core.c"):
        assert key in line
    assert "extra.d" not in line
    if as_json:
        cycle = result.json()["cycle"]
        assert set(cycle) == {"core.a", "core.b", "core.c"}
        assert cycle[0] == cycle[-1] and len(cycle) == 4
        assert " -> ".join(cycle) in line
    else:
        assert result.stdout == ""


@pytest.mark.parametrize("where", ["mesh", "in-process"])
def test_status_of_a_malformed_id_is_invalid_argument(mesh: Mesh, tmp_path: Path, where: str) -> None:
    # In-process, the embedded PostgreSQL forks helpers while gRPC runs: still one line.
    env = mesh.client_env(tmp_path / "data") if where == "mesh" else clean_env(tmp_path / "embedded")
    result = devmatrix("status", "not-a-uuid", env=env)
    assert_one_line_error(result, 1, "INVALID_ARGUMENT", "not-a-uuid")
    assert result.stdout == ""


def test_status_of_an_unknown_spec_is_not_found(mesh: Mesh, tmp_path: Path) -> None:
    spec_id = str(uuid.uuid4())
    result = devmatrix("status", spec_id, "--json", env=mesh.client_env(tmp_path / "data"))
    assert_one_line_error(result, 1, "NOT_FOUND", spec_id)
    assert result.stdout == ""


def test_sigterm_stops_the_mesh(mesh: Mesh) -> None:
    """Runs last in this module: it stops the shared mesh."""
    children = child_processes(mesh.process.pid)
    by_service = {
        name: pid for pid, cmd in children.items() for name in SERVICE_NAMES if f"-m services.{name}" in cmd
    }
    assert set(by_service) == set(SERVICE_NAMES), children
    embedded_pg = str(mesh.data_dir / "pg")
    assert processes_mentioning(embedded_pg), "the embedded PostgreSQL should be running"

    mesh.process.send_signal(signal.SIGTERM)
    assert mesh.process.wait(timeout=SHUTDOWN_TIMEOUT_S) == 0, mesh.stderr_path.read_text()[-4000:]
    still = {name: pid for name, pid in by_service.items() if alive(pid)}
    assert not still, f"children left running: {still}"

    deadline = time.monotonic() + 10
    while processes_mentioning(embedded_pg) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_mentioning(embedded_pg), "the embedded PostgreSQL was left running"

    text = mesh.stderr_path.read_text()
    assert "Traceback" not in text
    stopped = {e["service"] for e in json_events(text) if e.get("event") == "stopped"}
    assert stopped == set(SERVICE_NAMES)
