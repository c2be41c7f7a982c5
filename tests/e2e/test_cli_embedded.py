"""The `devmatrix` command with no mesh running: the orchestrator starts in process, on the
embedded PostgreSQL in a temporary data dir; and its one-line errors."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_support import (
    SMALL_PLAN,
    TASK_API,
    WIDE,
    assert_one_line_error,
    check_plan_document,
    clean_env,
    devmatrix,
    free_ports,
)


@pytest.fixture(scope="module")
def embedded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir for commands that start the in-process mesh (initialized once, reused)."""
    return tmp_path_factory.mktemp("embedded")


@pytest.fixture(scope="module")
def markdown_plan(embedded_dir: Path) -> dict[str, Any]:
    data_dir = embedded_dir
    result = devmatrix("plan", str(TASK_API), "--json", env=clean_env(data_dir))
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    doc = result.json()  # the whole of stdout is one JSON document
    assert (data_dir / "pg").is_dir()  # the embedded PostgreSQL lives in the data dir
    return doc


def test_plan_markdown_as_json(markdown_plan: dict[str, Any]) -> None:
    doc = markdown_plan
    assert doc["title"] == "Task API"
    uuid.UUID(doc["spec_id"])
    by_id = check_plan_document(doc)
    types = {t["type"] for t in by_id.values()}
    assert {"PHASE", "TASK_GROUP", "TASK", "SUBTASK"} <= types
    assert sorted({t["phase"] for t in by_id.values() if t["type"] == "PHASE"}) == [1, 2, 3, 4, 5]
    assert len(doc["waves"]) >= 3


def test_plan_markdown_as_text(markdown_plan: dict[str, Any], embedded_dir: Path) -> None:
    result = devmatrix("plan", str(TASK_API), env=clean_env(embedded_dir, COLUMNS=WIDE))
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    by_id = {t["id"]: t for t in markdown_plan["tasks"]}
    assert out.splitlines()[0].startswith("Task API spec ")
    # The hierarchy names every task, phase to subtask.
    for task in by_id.values():
        assert task["key"] in out, task["key"]
    # The wave table: one row per wave with its size, effort and task keys.
    lines = out.splitlines()
    table = lines[lines.index(next(line for line in lines if "Execution waves" in line)) :]
    rows = {}
    for line in table:
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) == 4 and cells[0].isdigit():
            rows[int(cells[0])] = cells[1:]
    assert sorted(rows) == list(range(len(markdown_plan["waves"])))
    for number, wave in enumerate(markdown_plan["waves"]):
        count, effort, keys = rows[number]
        assert int(count) == len(wave)
        assert int(effort) == sum(by_id[i]["effort"] for i in wave)
        assert sorted(keys.split(", ")) == sorted(by_id[i]["key"] for i in wave)
    # The critical path, by keys, in order.
    critical = [line for line in lines if line.startswith("Critical path")]
    assert len(critical) == 1
    assert f"(effort {markdown_plan['critical_path_effort']})" in critical[0]
    # Equal-effort paths may tie (ids are random, so is the tie-break): check it is a dependency
    # chain of the same plan, by keys, whose efforts add up to the JSON run's critical effort.
    by_key = {t["key"]: t for t in by_id.values()}
    keys = critical[0].split(": ", 1)[1].split(" -> ")
    assert len(keys) >= 2 and all(k in by_key and by_key[k]["type"] == "TASK" for k in keys), keys
    for earlier, later in itertools.pairwise(keys):
        assert by_key[earlier]["id"] in by_key[later]["depends_on"], f"{earlier} -> {later}"
    assert sum(by_key[k]["effort"] for k in keys) == markdown_plan["critical_path_effort"]
    assert f"Parallelism: {len(markdown_plan['waves'])} waves" in out


# --- errors that need no mesh ---------------------------------------------------------------


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "a-rather-long-directory-name-for-wrapping" / "no-such-spec-file.md"
    result = devmatrix("plan", str(missing), env=clean_env(tmp_path / "data"))
    assert_one_line_error(result, 2, str(missing), "No such file")
    assert result.stdout == ""


@pytest.mark.parametrize("command", [("status", str(uuid.uuid4())), ("plan", str(SMALL_PLAN))])
def test_bad_env_value_is_exit_2(tmp_path: Path, command: tuple[str, str]) -> None:
    result = devmatrix(*command, env=clean_env(tmp_path / "data", DB_POOL_SIZE="x"))
    assert_one_line_error(result, 2, "DB_POOL_SIZE", "'x'")
    assert not (tmp_path / "data").exists()  # nothing was started


@pytest.mark.parametrize("command", [("status", str(uuid.uuid4())), ("plan", str(SMALL_PLAN), "--json")])
def test_closed_port_is_unavailable_within_the_deadline(tmp_path: Path, command: tuple[str, ...]) -> None:
    (port,) = free_ports(1)  # nothing listens there
    deadline = 3.0
    env = clean_env(
        tmp_path / "data", ORCHESTRATOR_ADDR=f"127.0.0.1:{port}", GRPC_DEADLINE_SECONDS=str(deadline)
    )
    result = devmatrix(*command, env=env)
    assert_one_line_error(result, 1, "UNAVAILABLE", f"127.0.0.1:{port}")
    assert result.stdout == ""
    # The RPC gave up before its deadline (not DEADLINE_EXCEEDED), plus interpreter start-up.
    assert result.seconds < deadline + 5.0
    assert not (tmp_path / "data").exists()  # no embedded mesh was started instead


# --- `devmatrix up` and commands against it ----------------------------------------------------
