"""`devmatrix generate TASK_ID` as a user runs it, against one `devmatrix up` mesh for the
module (codegen calls orchestrator, context, patterns and skills; no LLM is configured, so
structured and analysis tasks are generated offline and UI tasks are refused), and
`write_all`, which writes the files whole or not at all."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from devmatrix.cli.generate_cmd import write_all
from devmatrix.standards import SKILL_NAMES
from devmatrix.v1.common_pb2 import GeneratedFile
from tests.e2e.cli_support import ROOT, TASK_API, WIDE, Result, assert_one_line_error, devmatrix
from tests.e2e.mesh_support import Mesh

BLOG_UI = ROOT / "examples" / "specs" / "blog_ui.md"
MODEL_TASK = "P3.models.project"
# GENERIC, and written offline: the requirements of the spec traced to the composed project.
REQUIREMENTS_TASK = "P1.analysis.requirements"
# A page of blog_ui.md: only the Anthropic generator writes UI code.
UI_TASK = "P3.ui.page-1"
STAGING_PREFIX = ".devmatrix-generate-"


def plan_on(mesh: Mesh, spec: Path, client_dir: Path) -> dict[str, dict[str, Any]]:
    """key -> task of `spec`, planned on the mesh."""
    planned = devmatrix("plan", str(spec), "--json", env=mesh.client_env(client_dir))
    assert planned.code == 0, planned.stderr
    return {t["key"]: t for t in planned.json()["tasks"]}


@pytest.fixture(scope="module")
def task_ids(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """key -> id of the tasks of examples/specs/task_api.md, planned on the mesh."""
    by_key = plan_on(mesh, TASK_API, tmp_path_factory.mktemp("plan") / "client")
    assert by_key[MODEL_TASK]["kind"] == "MODEL" and by_key[MODEL_TASK]["name"] == "Project model"
    assert by_key[REQUIREMENTS_TASK]["kind"] == "GENERIC"
    return {key: task["id"] for key, task in by_key.items()}


@pytest.fixture(scope="module")
def blog_task_ids(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """key -> id of the tasks of examples/specs/blog_ui.md, planned on the mesh."""
    by_key = plan_on(mesh, BLOG_UI, tmp_path_factory.mktemp("plan") / "client")
    assert by_key[UI_TASK]["kind"] == "UI"
    return {key: task["id"] for key, task in by_key.items()}


def generate(mesh: Mesh, client_dir: Path, *args: str, **overrides: str) -> Result:
    env = mesh.client_env(client_dir, CODEGEN_ADDR=mesh.addr("codegen"), **overrides)
    result = devmatrix("generate", *args, env=env, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    assert not client_dir.exists(), "the running mesh was used, no embedded one started"
    return result


def tree(root: Path) -> dict[str, str | None]:
    """Every entry under `root`: relative path -> file content, None for a directory."""
    return {
        p.relative_to(root).as_posix(): None if p.is_dir() else p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
    }


def staging_left(*where: Path) -> list[Path]:
    return [p for root in where if root.is_dir() for p in root.iterdir() if p.name.startswith(STAGING_PREFIX)]


def check_generation(doc: dict[str, Any], task_id: str) -> None:
    assert doc["taskId"] == task_id
    assert doc["generator"] == "offline"
    assert doc["attempt"] == 1
    assert doc["passed"] is True
    assert [f["path"] for f in doc["files"]] == ["app/models/project.py"]
    (model,) = doc["files"]
    assert model["language"] == "python"
    assert "class Project(" in model["content"] and '__tablename__ = "projects"' in model["content"]
    validations = doc["validations"]
    assert validations
    for v in validations:
        assert v["skill"] in SKILL_NAMES
        assert set(v) == {"skill", "score", "passed", "threshold", "findings"}
        assert v["passed"] == (v["score"] >= v["threshold"]), v
        for finding in v["findings"]:
            assert finding["path"] == "app/models/project.py"
    assert all(v["passed"] for v in validations)
    assert "backend-models" in {v["skill"] for v in validations}
    assert "backend-models" in doc["skillsApplied"]
    scores = [v["score"] for v in validations]
    assert doc["overallScore"] == pytest.approx(sum(scores) / len(scores), abs=1e-4)
    assert doc["usage"]["costUsd"] == 0


def test_generate_a_model_task_into_a_directory(mesh: Mesh, task_ids: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "project"
    task_id = task_ids[MODEL_TASK]
    result = generate(mesh, tmp_path / "client", task_id, "--out", str(out), "--json")
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    doc = result.json()
    check_generation(doc, task_id)
    # Exactly the files of the answer, with its content, and no staging directory left.
    assert tree(out) == {
        "app": None,
        "app/models": None,
        **{f["path"]: f["content"] for f in doc["files"]},
    }
    assert staging_left(tmp_path, out) == []


def test_generate_prints_the_files(mesh: Mesh, task_ids: dict[str, str], tmp_path: Path) -> None:
    task_id = task_ids[MODEL_TASK]
    doc = generate(mesh, tmp_path / "client", task_id, "--json").json()
    check_generation(doc, task_id)
    (model,) = doc["files"]

    # No COLUMNS: printed code is verbatim, not wrapped at the 80 columns of a pipe.
    result = generate(mesh, tmp_path / "client", task_id)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "offline generator, attempt 1: 1 files, skills passed "
        f"(score {doc['overallScore']:.2f}, confidence {doc['confidence']:.2f})",
        "offline: 0 in / 0 out tokens, $0.0000",
    ]
    for v in doc["validations"]:
        for f in v["findings"]:
            assert f"{f['path']}:{f['line']}: {v['skill']}/{f['rule']}: {f['message']}" in lines
    if doc["patternsUsed"]:
        assert "patterns used: " + ", ".join(doc["patternsUsed"]) in lines
    rule = next(n for n, line in enumerate(lines) if " app/models/project.py " in line)
    assert set(lines[rule].replace(" app/models/project.py ", "")) == {"─"}
    assert "\n".join(lines[rule + 1 :]) == model["content"].rstrip("\n")
    assert "wrote " not in result.stdout

    out = tmp_path / "written"
    wrote = generate(mesh, tmp_path / "client", task_id, "--out", str(out), COLUMNS=WIDE)
    assert wrote.code == 0, wrote.stderr
    assert wrote.stdout.splitlines()[-1] == f"wrote {out / 'app/models/project.py'}"
    assert (out / "app/models/project.py").read_text() == model["content"]
    assert model["content"] not in wrote.stdout


def test_the_requirements_analysis_is_written_offline(
    mesh: Mesh, task_ids: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "project"
    result = generate(mesh, tmp_path / "client", task_ids[REQUIREMENTS_TASK], "--out", str(out), "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert doc["generator"] == "offline" and doc["passed"] is True
    assert [f["path"] for f in doc["files"]] == ["docs/requirements.md"]
    written = (out / "docs" / "requirements.md").read_text(encoding="utf-8")
    assert written == doc["files"][0]["content"]
    # The seven functional requirements of task_api.md, each traced.
    assert "Traced: 7 of 7." in written
    assert all(f"## FR-{i}: " in written for i in range(1, 8))
    assert tree(out) == {"docs": None, "docs/requirements.md": written}


def test_a_ui_task_needs_the_anthropic_generator(
    mesh: Mesh, blog_task_ids: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "frontend"
    result = generate(mesh, tmp_path / "client", blog_task_ids[UI_TASK], "--out", str(out), "--json")
    assert_one_line_error(result, 1, "FAILED_PRECONDITION", UI_TASK, "ANTHROPIC_API_KEY")
    assert result.stdout == ""
    assert not out.exists()
    assert staging_left(tmp_path) == []


@pytest.mark.parametrize(
    ("task_id", "status"),
    [("not-a-uuid", "INVALID_ARGUMENT"), (str(uuid.uuid4()), "NOT_FOUND")],
    ids=["malformed", "unknown"],
)
def test_a_bad_task_id(mesh: Mesh, tmp_path: Path, task_id: str, status: str) -> None:
    out = tmp_path / "out"
    result = generate(mesh, tmp_path / "client", task_id, "--out", str(out))
    assert_one_line_error(result, 1, status, task_id)
    assert result.stdout == ""
    assert not out.exists()


# --- write_all: whole or not at all -----------------------------------------------------------


def files(*entries: tuple[str, str]) -> list[GeneratedFile]:
    return [GeneratedFile(path=path, content=content, language="python") for path, content in entries]


def existing_project(root: Path) -> Path:
    out = root / "project"
    (out / "app" / "models").mkdir(parents=True)
    (out / "app" / "main.py").write_text("old main\n")
    (out / "README.md").write_text("old readme\n")
    (out / "setup").write_text("a file where a directory would go\n")
    return out


@pytest.mark.parametrize(
    ("last", "error"),
    [
        ("app/models", "app/models: it is a directory"),
        ("setup/install.py", "project/setup is not a directory"),
        ("../escape.py", "refusing to write '../escape.py': not a relative path"),
        ("/etc/absolute.py", "refusing to write '/etc/absolute.py': not a relative path"),
        ("app/main.py", "refusing to write 'app/main.py': it appears more than once"),
        # A path under a file of the same call.
        ("app/new.py/inner.py", "refusing to write 'app/new.py/inner.py': 'app/new.py' is a file"),
        # Fails while staging, before anything is moved in.
        ("app/" + "n" * 300 + ".py", "File name too long"),
    ],
    ids=["directory", "file-as-parent", "dotdot", "absolute", "duplicate", "under-own-file", "too-long"],
)
def test_write_all_leaves_the_directory_as_it_was(tmp_path: Path, last: str, error: str) -> None:
    out = existing_project(tmp_path)
    before = tree(out)
    # The earlier entries replace files and create files and directories: all undone.
    batch = files(
        ("app/main.py", "new main\n"),
        ("app/new.py", "new module\n"),
        ("app/api/routes/tasks.py", "new routes\n"),
        ("README.md", "new readme\n"),
        (last, "the last entry\n"),
    )
    with pytest.raises(OSError, match=re.escape(error)):
        write_all(batch, out)
    assert tree(out) == before
    assert staging_left(tmp_path, out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_write_all_into_a_new_directory_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "new" / "project"
    with pytest.raises(OSError):
        write_all(files(("app/main.py", "main\n"), ("app/main.py/x.py", "under a file\n")), out)
    assert list(tmp_path.iterdir()) == []


def test_write_all_writes_and_replaces(tmp_path: Path) -> None:
    out = existing_project(tmp_path)
    written = write_all(files(("app/main.py", "new main\n"), ("app/api/routes/tasks.py", "routes\n")), out)
    assert written == [out / "app/main.py", out / "app/api/routes/tasks.py"]
    assert tree(out) == {
        "README.md": "old readme\n",
        "app": None,
        "app/api": None,
        "app/api/routes": None,
        "app/api/routes/tasks.py": "routes\n",
        "app/main.py": "new main\n",
        "app/models": None,
        "setup": "a file where a directory would go\n",
    }
    assert staging_left(tmp_path, out) == []
