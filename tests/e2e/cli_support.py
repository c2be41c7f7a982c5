"""Running the `devmatrix` command as a user does: real processes, no stdin, a temporary
data dir; and the checks every CLI test shares."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TASK_API = ROOT / "examples" / "specs" / "task_api.md"
SMALL_PLAN = ROOT / "examples" / "plans" / "small_plan.json"
CYCLIC_PLAN = ROOT / "examples" / "plans" / "cyclic_plan.json"
FULL_NAMES = {
    "orchestrator": "devmatrix.v1.OrchestratorService",
    "context": "devmatrix.v1.ContextService",
    "codegen": "devmatrix.v1.CodegenService",
    "patterns": "devmatrix.v1.PatternsService",
    "skills": "devmatrix.v1.SkillsService",
}
TASK_FIELDS = {
    "id",
    "key",
    "type",
    "name",
    "description",
    "parent",
    "phase",
    "status",
    "effort",
    "skills",
    "depends_on",
    "wave",
}
# A wide terminal, so rich neither wraps nor truncates what the assertions look for.
WIDE = "1000"
STARTUP_TIMEOUT_S = 120.0
SHUTDOWN_TIMEOUT_S = 30.0


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def clean_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The caller's environment without anything that would point the CLI elsewhere."""
    drop_suffixes = ("_PORT", "_ADDR", "_METRICS_PORT")
    drop = {
        "DATABASE_URL",
        "NEO4J_URI",
        "DB_POOL_SIZE",
        "GRPC_DEADLINE_SECONDS",
        "GRPC_VERBOSITY",
        "LOG_LEVEL",
        "COLUMNS",
    }
    env = {k: v for k, v in os.environ.items() if not k.endswith(drop_suffixes) and k not in drop}
    env.update(DEVMATRIX_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


@dataclasses.dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)


def devmatrix(*args: str, env: dict[str, str], timeout: float = 90.0) -> Result:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "devmatrix.cli.main", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def assert_one_line_error(result: Result, code: int, *needles: str) -> str:
    assert result.code == code, f"exit {result.code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("error:"), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


# --- plan with the in-process mesh ------------------------------------------------------------


def check_plan_document(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The invariants of `plan --json`; returns the tasks by id."""
    tasks = doc["tasks"]
    assert tasks
    for task in tasks:
        assert set(task) >= TASK_FIELDS, f"{task.get('key')}: missing {TASK_FIELDS - set(task)}"
    by_id = {t["id"]: t for t in tasks}
    assert len(by_id) == len(tasks)
    assert len({t["key"] for t in tasks}) == len(tasks)
    for task in tasks:
        assert task["parent"] is None or task["parent"] in by_id
        assert set(task["depends_on"]) <= set(by_id), task["key"]

    executable = {t["id"] for t in tasks if t["type"] == "TASK"}
    assert executable
    waves = doc["waves"]
    members = [i for wave in waves for i in wave]
    assert all(wave for wave in waves)
    assert len(members) == len(set(members))  # a task is in one wave only
    assert set(members) == executable
    wave_of = {i: n for n, wave in enumerate(waves) for i in wave}
    for task_id in executable:
        task = by_id[task_id]
        assert task["wave"] == wave_of[task_id], task["key"]
        for dep in task["depends_on"]:
            assert dep in wave_of, f"{task['key']} depends on unscheduled {by_id[dep]['key']}"
            assert wave_of[dep] < wave_of[task_id], f"{by_id[dep]['key']} not before {task['key']}"

    path = doc["critical_path"]
    assert path and set(path) <= executable
    for earlier, later in itertools.pairwise(path):
        assert earlier in by_id[later]["depends_on"], f"{by_id[earlier]['key']} -> {by_id[later]['key']}"
    assert doc["critical_path_effort"] == sum(by_id[i]["effort"] for i in path)
    assert set(doc["ready"]) == set(waves[0])
    assert doc["cycle"] is None
    return by_id
