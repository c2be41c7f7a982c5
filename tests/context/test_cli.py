"""`devmatrix context` as a user runs it: real processes, against the test's running
services (ORCHESTRATOR_ADDR / CONTEXT_ADDR) and with the CLI's own in-process mesh."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.context.conftest import StartContext
from tests.context.fakes import FakePatterns, FakeSkills
from tests.context.helpers import ROOT, SMALL_PLAN, create_spec

TIMEOUT_S = 120.0


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    drop = ("_PORT", "_ADDR", "_METRICS_PORT")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(drop) and k not in {"DATABASE_URL", "NEO4J_URI", "REDIS_URL", "LOG_LEVEL"}
    }
    env.update(DEVMATRIX_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", COLUMNS="1000", **extra)
    return env


async def devmatrix(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devmatrix.cli.main",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    return process.returncode or 0, out.decode(), err.decode()


async def test_context_commands_against_running_services(start_context: StartContext, tmp_path: Path) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills())
    spec_id, tasks = await create_spec(mesh.orchestrator, plan_json=SMALL_PLAN.read_text())
    env = env_for(
        tmp_path, ORCHESTRATOR_ADDR=mesh.orchestrator.server.address, CONTEXT_ADDR=mesh.server.address
    )
    task = tasks["api.create"]

    code, out, err = await devmatrix("context", task.id, "--level", "minimal", env=env)
    assert code == 0, err
    head, _, text = out.partition("\n\n")
    assert head.startswith(f"# context of task {task.id} (minimal): ")
    assert "tokens (all-MiniLM-L6-v2 WordPiece)" in head and "budget 3072" in head
    assert "POST /notes" in text and "422 when text is missing" in text and "global-validation" in text

    code, out, err = await devmatrix("context", task.id, "--json", env=env)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["level"] == "CONTEXT_LEVEL_STANDARD" and doc["taskId"] == task.id
    assert doc["totalBytes"] == len(doc["text"].encode()) == sum(s["bytes"] for s in doc["sections"])
    assert doc["tokenCounter"] == "all-MiniLM-L6-v2 WordPiece"

    code, out, err = await devmatrix("context", "compare", spec_id, "--json", env=env)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["task_count"] == len(tasks) == len(doc["tasks"])
    assert set(doc["median_reduction"]) == {"minimal", "standard", "extended"}
    assert all(doc["all_facts_present"].values())
    row = next(r for r in doc["tasks"] if r["key"] == "api.create")
    assert row["full_markdown"]["tokens"] > 0 and row["levels"]["minimal"]["tokens"] > 0

    code, out, err = await devmatrix("context", "compare", spec_id, env=env)
    assert code == 0, err
    assert "api.create POST /notes" in out
    for level in ("minimal", "standard", "extended"):
        assert f"median reduction {level}: " in out

    code, out, err = await devmatrix("context", task.id, "--level", "huge", env=env)
    assert code == 2 and "huge" in err
    code, out, err = await devmatrix("context", "00000000-0000-4000-8000-000000000000", env=env)
    assert code == 1 and err.startswith("error: NOT_FOUND") and "Traceback" not in err


async def test_context_compare_with_the_in_process_mesh(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    code, out, err = await devmatrix("plan", str(SMALL_PLAN), "--json", env=env)
    assert code == 0, err
    plan = json.loads(out)
    task_ids = [t["id"] for t in plan["tasks"] if t["type"] == "TASK"]
    code, out, err = await devmatrix("context", "compare", plan["spec_id"], "--json", env=env)
    assert code == 0, err
    doc = json.loads(out)
    assert sorted(r["task_id"] for r in doc["tasks"]) == sorted(task_ids)
    assert all(doc["all_facts_present"].values())

    # The in-process mesh runs the real patterns service on the golden library and the
    # real skills service on its catalogue, so nothing is degraded.
    api_task = next(t for t in plan["tasks"] if t["type"] == "TASK" and "backend-api" in t["skills"])
    code, out, err = await devmatrix("context", api_task["id"], "--level", "standard", "--json", env=env)
    assert code == 0, err
    context = json.loads(out)
    sections = {s["name"]: s for s in context["sections"]}
    assert not sections["patterns"]["degraded"] and sections["patterns"]["content"]
    golden = {p.stem for p in (ROOT / "services" / "patterns" / "library").rglob("*.yaml")}
    assert any(name in sections["patterns"]["content"] for name in golden)
    assert context["degradedSections"] == []
    guidelines = sections["skill_guidelines"]
    assert not guidelines["degraded"]
    assert "**backend-api**" in guidelines["content"] and "**global-coding-style**" in guidelines["content"]
