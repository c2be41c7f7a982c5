"""`devmatrix run SPEC` as a user runs it, against one `devmatrix up` mesh for the module
(offline generation, no LLM): the ten phases on the example spec, a second run that
reuses what the first stored, a spec some of whose tasks cannot be generated, and the
bad inputs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from devmatrix.runtime.channels import open_channel
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from tests.e2e.cli_support import ROOT, TASK_API, WIDE, Result, assert_one_line_error, devmatrix
from tests.e2e.mesh_support import Mesh

BLOG_UI = ROOT / "examples" / "specs" / "blog_ui.md"
PHASES = ["1", "2", "3", "4", "5", "6", "6.5", "7", "8", "9", "10"]
LEVELS = ["atomic", "module", "component", "system"]
RUN_TIMEOUT_S = 900.0


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One client data dir for the module: the isolated environment of the generated
    project is created by the first run and reused by the next."""
    return tmp_path_factory.mktemp("client")


def run(mesh: Mesh, client: Path, *args: str) -> Result:
    env = mesh.client_env(
        client,
        CODEGEN_ADDR=mesh.addr("codegen"),
        SKILLS_ADDR=mesh.addr("skills"),
        PATTERNS_ADDR=mesh.addr("patterns"),
        COLUMNS=WIDE,
    )
    result = devmatrix("run", *args, env=env, timeout=RUN_TIMEOUT_S)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def orchestrator(mesh: Mesh, method: str, request: Any) -> Any:
    async def call() -> Any:
        channel = open_channel(mesh.addr("orchestrator"), 10.0)
        try:
            return await getattr(orchestrator_pb2_grpc.OrchestratorServiceStub(channel), method)(request)
        finally:
            await channel.close()

    return asyncio.run(call())


def pipeline_runs(mesh: Mesh, spec_id: str) -> list[pb.PipelineRun]:
    return list(orchestrator(mesh, "ListPipelineRuns", pb.ListPipelineRunsRequest(spec_id=spec_id)).runs)


def files_of(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text("utf-8") for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def first(mesh: Mesh, client: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("first") / "task-api"
    return run(mesh, client, str(TASK_API), "--out", str(out), "--json"), out


def test_the_example_spec_becomes_a_checked_working_project(mesh: Mesh, first: tuple[Result, Path]) -> None:
    result, out = first
    assert result.code == 0, result.stdout + result.stderr
    doc: dict[str, Any] = result.json()
    assert doc["passed"] is True
    assert [p["phase"] for p in doc["phases"]] == PHASES and all(p["ok"] for p in doc["phases"])
    # Every phase printed its one-line result on stderr.
    for phase in doc["phases"]:
        assert f"{phase['phase']} {phase['name']}" in result.stderr
    assert doc["tasks_completed"] == doc["tasks"] > 40 and doc["tasks_failed"] == doc["tasks_in_review"] == 0
    assert doc["waves_executed"] == doc["waves"] >= 5
    assert doc["compliance"] >= 0.8
    assert [v["level"] for v in doc["validation"]] == LEVELS and all(v["passed"] for v in doc["validation"])
    system = doc["validation"][3]
    assert system["checked"] > 100 and system["failed"] == 0
    health = doc["health"]
    assert health["passed"] and health["installed"]
    assert health["endpoints_checked"] >= 15 and health["endpoints_ok"] == health["endpoints_checked"]
    assert health["tests_passed"] == system["checked"]
    assert doc["patterns_stored"] > 0
    # Nothing of this spec was stored before: only golden modules copied verbatim count.
    assert doc["reuse_rate"] < 0.1
    assert doc["sequential_seconds"] > doc["execution_wall_seconds"] > 0 and doc["speedup"] > 1.0
    assert doc["tokens_in"] == doc["tokens_out"] == 0 and doc["cost_usd"] == 0.0
    # The project on disk is the one the database holds, with the analysis documents.
    project = files_of(out)
    stored = orchestrator(mesh, "ListTaskFiles", pb.ListTaskFilesRequest(spec_id=doc["spec_id"]))
    assert project == {f.file.path: f.file.content for f in stored.files}
    assert {"app/main.py", "pyproject.toml", "docs/requirements.md", "tests/conftest.py"} <= set(project)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    # The run is stored with the spec.
    [recorded] = pipeline_runs(mesh, doc["spec_id"])
    assert recorded.passed and recorded.execution_id == doc["execution_id"] and recorded.out_dir == str(out)
    assert [v.level for v in recorded.validation] == LEVELS


def test_a_second_run_reuses_the_first_runs_patterns_and_replaces_the_output_whole(
    mesh: Mesh, client: Path, first: tuple[Result, Path]
) -> None:
    _, out = first
    (out / "stray.txt").write_text("left by hand\n", encoding="utf-8")
    result = run(mesh, client, str(TASK_API), "--out", str(out), "--json", "--concurrency", "3")
    assert result.code == 0, result.stdout + result.stderr
    doc = result.json()
    assert doc["passed"] and doc["spec_id"] != first[0].json()["spec_id"]
    assert doc["reuse_rate"] > 0.3 and doc["tasks_reusing_patterns"] > 10
    assert not (out / "stray.txt").exists()
    assert (out / "app" / "main.py").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def test_tasks_that_cannot_be_generated_are_reported_not_fatal(
    mesh: Mesh, client: Path, tmp_path: Path
) -> None:
    """blog_ui's UI tasks need an LLM: they fail, their dependents are blocked, the rest is
    generated, and the run ends with the failures and their lessons, exit 1."""
    out = tmp_path / "blog"
    result = run(mesh, client, str(BLOG_UI), "--out", str(out), "--json")
    assert result.code == 1, result.stdout + result.stderr
    doc = result.json()
    assert doc["passed"] is False
    assert doc["tasks_completed"] > 0 and doc["tasks_failed"] > 0
    assert doc["tasks_completed"] + doc["tasks_failed"] + doc["tasks_in_review"] == doc["tasks"]
    failed = [f for f in doc["failures"] if f["status"] == "FAILED"]
    assert failed and all(
        "ANTHROPIC_API_KEY" in f["reason"] and "ANTHROPIC_API_KEY" in f["lesson"] for f in failed
    )
    phases = {p["phase"]: p for p in doc["phases"]}
    assert not phases["6"]["ok"] and phases["10"]["ok"]
    [stored] = pipeline_runs(mesh, doc["spec_id"])
    assert not stored.passed


def test_bad_input_is_one_line_and_writes_nothing(mesh: Mesh, client: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = run(mesh, client, str(tmp_path / "nope.md"), "--out", str(out))
    assert_one_line_error(missing, 2, "cannot read", "nope.md")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    not_dir = run(mesh, client, str(TASK_API), "--out", str(a_file))
    assert_one_line_error(not_dir, 2, "is not a directory")
    empty = tmp_path / "empty.md"
    empty.write_text("   \n")
    refused = run(mesh, client, str(empty), "--out", str(out))
    assert_one_line_error(refused, 1, "INVALID_ARGUMENT")
    bad_json = tmp_path / "plan.json"
    bad_json.write_text(json.dumps({"tasks": "no"}))
    assert_one_line_error(run(mesh, client, str(bad_json), "--out", str(out)), 1, "INVALID_ARGUMENT")
    zero = run(mesh, client, str(TASK_API), "--out", str(out), "--concurrency", "0")
    assert zero.code == 2 and "concurrency" in zero.stderr
    assert not out.exists()
