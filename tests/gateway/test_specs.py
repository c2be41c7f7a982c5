"""Specs over HTTP: creation (markdown, JSON plan, idempotency), the paginated and filtered
task list, analysis, progress, the current wave and a whole run."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from tests.execution.fake_codegen import ok
from tests.gateway.conftest import ROOT, SMALL_PLAN, Gateway, assert_problem, create_plan, tasks_by_key

TASK_API = (ROOT / "examples" / "specs" / "task_api.md").read_text("utf-8")
SPEC_FIELDS = {
    "id", "name", "title", "format", "status", "overview", "tech_stack", "constraints", "task_count",
    "created_at", "updated_at",
}  # fmt: skip
TASK_FIELDS = {
    "id", "spec_id", "parent_id", "key", "type", "name", "description", "status", "effort", "assigned_to",
    "phase", "priority", "kind", "acceptance_criteria", "expected_output", "required_skills", "depends_on",
    "wave", "position", "version", "created_at", "updated_at",
}  # fmt: skip


async def wait_execution(http: httpx.AsyncClient, execution_id: str, within: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        reply = await http.get(f"/api/executions/{execution_id}")
        assert reply.status_code == 200, reply.text
        if reply.json()["status"] != "RUNNING":
            return reply.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, reply.json()
        await asyncio.sleep(0.1)


async def test_a_plan_creates_a_spec_and_a_replayed_key_returns_it(http: httpx.AsyncClient) -> None:
    key = f"create-{uuid.uuid4()}"
    first = await http.post(
        "/api/specs", json={"plan": SMALL_PLAN, "name": "notes"}, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == {"spec", "created", "requirement_count"} and body["created"] is True
    spec = body["spec"]
    assert set(spec) == SPEC_FIELDS
    assert (spec["name"], spec["title"], spec["format"], spec["status"]) == (
        "notes",
        "Notes API",
        "JSON_PLAN",
        "PLANNED",
    )
    assert spec["task_count"] == len(SMALL_PLAN["tasks"])
    assert first.headers["location"] == f"/api/specs/{spec['id']}"

    again = await http.post(
        "/api/specs", json={"plan": SMALL_PLAN, "name": "notes"}, headers={"Idempotency-Key": key}
    )
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False and again.json()["spec"]["id"] == spec["id"]

    got = await http.get(f"/api/specs/{spec['id']}")
    assert got.status_code == 200 and got.json()["spec"]["id"] == spec["id"]
    listed = await http.get("/api/specs", params={"page_size": 500})
    assert spec["id"] in {s["id"] for s in listed.json()["specs"]}


async def test_a_markdown_spec_is_planned(http: httpx.AsyncClient) -> None:
    reply = await http.post("/api/specs", json={"markdown": TASK_API})
    assert reply.status_code == 201, reply.text
    spec = reply.json()["spec"]
    assert spec["format"] == "MARKDOWN" and spec["task_count"] > 10
    assert reply.json()["requirement_count"] > 0


async def test_bad_specs_are_400_naming_the_field(http: httpx.AsyncClient) -> None:
    no_heading = await http.post("/api/specs", json={"markdown": "just some words, no title"})
    assert_problem(no_heading, 400, "INVALID_ARGUMENT", "markdown")
    assert no_heading.json()["service"] == "orchestrator"

    bad_plan = {"spec": {"title": "x"}, "tasks": [{"key": "a", "type": "TASK", "name": "a", "effort": "big"}]}
    broken = await http.post("/api/specs", json={"plan": bad_plan})
    body = assert_problem(broken, 400, "INVALID_ARGUMENT")
    assert any(v["field"].startswith("plan.tasks[0]") for v in body["field_violations"]), body

    both = await http.post("/api/specs", json={"markdown": "# A", "plan": SMALL_PLAN})
    assert_problem(both, 400, "INVALID_ARGUMENT", "markdown", "plan")
    neither = await http.post("/api/specs", json={"name": "x"})
    assert_problem(neither, 400, "INVALID_ARGUMENT", "markdown", "plan")
    not_json = await http.post("/api/specs", content=b"{nope", headers={"content-type": "application/json"})
    assert_problem(not_json, 400, "INVALID_ARGUMENT")
    wrong_type = await http.post("/api/specs", json={"plan": [1, 2]})
    assert_problem(wrong_type, 400, "INVALID_ARGUMENT", "plan")


async def test_unknown_and_malformed_spec_ids(http: httpx.AsyncClient) -> None:
    missing = str(uuid.uuid4())
    for path in (f"/api/specs/{missing}", f"/api/specs/{missing}/tasks", f"/api/progress/{missing}"):
        body = assert_problem(await http.get(path), 404, "NOT_FOUND")
        assert body["resource"] == {"type": "spec", "name": missing}, body
    assert_problem(await http.get("/api/specs/not-a-uuid/tasks"), 400, "INVALID_ARGUMENT", "spec_id")
    assert_problem(await http.get("/api/progress/nope"), 400, "INVALID_ARGUMENT", "spec_id")
    assert_problem(await http.post("/api/orchestration/analyze", json={"spec_id": missing}), 404, "NOT_FOUND")
    assert_problem(await http.post("/api/orchestration/analyze", json={}), 400, "INVALID_ARGUMENT", "spec_id")
    assert_problem(await http.get("/api/waves/current"), 400, "INVALID_ARGUMENT", "spec_id")
    assert_problem(await http.get("/api/waves/current", params={"spec_id": missing}), 404, "NOT_FOUND")


async def test_the_task_list_is_paginated_and_filtered(http: httpx.AsyncClient) -> None:
    spec = (await create_plan(http))["spec"]
    url = f"/api/specs/{spec['id']}/tasks"
    seen: list[str] = []
    token: str | None = ""
    while token is not None:
        page = await http.get(url, params={"page_size": 4, "page_token": token})
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) == {"tasks", "next_page_token", "total_size"}
        assert len(body["tasks"]) <= 4 and body["total_size"] == spec["task_count"]
        seen += [t["id"] for t in body["tasks"]]
        token = body["next_page_token"]
    assert len(seen) == len(set(seen)) == spec["task_count"]

    tasks = (await http.get(url, params={"type": "TASK", "page_size": 2000})).json()["tasks"]
    assert tasks and {t["type"] for t in tasks} == {"TASK"}
    assert set(tasks[0]) == TASK_FIELDS
    assert len(tasks) == sum(1 for t in SMALL_PLAN["tasks"] if t["type"] == "TASK")
    ready = (await http.get(url, params={"status": "READY"})).json()["tasks"]
    assert ready and {t["status"] for t in ready} == {"READY"}

    analysis = await http.post("/api/orchestration/analyze", json={"spec_id": spec["id"]})
    assert analysis.status_code == 200, analysis.text
    waves = analysis.json()["waves"]
    wave0 = (await http.get(url, params={"wave": 0, "page_size": 2000})).json()["tasks"]
    assert {t["id"] for t in wave0} == set(waves[0]["task_ids"])
    assert {t["wave"] for t in wave0} == {0}

    assert_problem(await http.get(url, params={"status": "DONE"}), 400, "INVALID_ARGUMENT", "status")
    assert_problem(await http.get(url, params={"type": "EPIC"}), 400, "INVALID_ARGUMENT", "type")
    assert_problem(await http.get(url, params={"page_size": 0}), 400, "INVALID_ARGUMENT", "page_size")
    assert_problem(await http.get(url, params={"wave": -1}), 400, "INVALID_ARGUMENT", "wave")
    assert_problem(await http.get(url, params={"page_token": "garbage"}), 400, "INVALID_ARGUMENT")


async def test_analysis_progress_and_current_wave(http: httpx.AsyncClient) -> None:
    spec = (await create_plan(http))["spec"]
    # Never analysed: the current wave analyses it first.
    current = await http.get("/api/waves/current", params={"spec_id": spec["id"]})
    assert current.status_code == 200, current.text
    body = current.json()
    assert set(body) == {"spec_id", "wave", "wave_count", "complete", "counts", "tasks"}
    assert body["wave"] == 0 and body["complete"] is False and body["wave_count"] >= 3
    assert body["tasks"] and {t["wave"] for t in body["tasks"]} == {0}
    assert body["counts"]["total"] == len(body["tasks"])

    analysis = (await http.post("/api/orchestration/analyze", json={"spec_id": spec["id"]})).json()
    assert analysis["spec_id"] == spec["id"] and len(analysis["waves"]) == body["wave_count"]
    assert analysis["critical_path"] and analysis["task_count"] == sum(
        len(w["task_ids"]) for w in analysis["waves"]
    )
    assert analysis["ideal_speedup"] >= 1.0 and set(analysis["ready_task_ids"]) <= set(
        analysis["waves"][0]["task_ids"]
    )

    progress = await http.get(f"/api/progress/{spec['id']}")
    assert progress.status_code == 200, progress.text
    p = progress.json()
    assert p["spec_id"] == spec["id"] and p["spec_status"] == "ANALYZED" and p["current_wave"] == 0
    assert p["overall"]["total"] == analysis["task_count"] and p["overall"]["percent_complete"] == 0.0
    assert [w["wave"] for w in p["waves"]] == list(range(len(analysis["waves"])))
    assert {ph["phase"] for ph in p["phases"]} <= {1, 2, 3, 4, 5}


async def test_a_run_executes_every_wave(gateway: Gateway, http: httpx.AsyncClient) -> None:
    spec = (await create_plan(http))["spec"]
    tasks = await tasks_by_key(http, spec["id"])
    gateway.codegen.script(tasks["analysis.scope"]["id"], ok(delay=1.0))  # still running at the second run
    started = await http.post(f"/api/specs/{spec['id']}/run", json={"concurrency": 2})
    assert started.status_code == 202, started.text
    execution = started.json()
    assert execution["status"] == "RUNNING" and execution["spec_id"] == spec["id"]
    assert started.headers["location"] == f"/api/executions/{execution['id']}"

    again = await http.post(f"/api/specs/{spec['id']}/run")
    body = assert_problem(again, 409, "ALREADY_EXISTS")
    assert execution["id"] in body["detail"]

    done = await wait_execution(http, execution["id"])
    assert done["status"] == "COMPLETED" and done["tasks_failed"] == 0
    assert done["tasks_completed"] == sum(1 for t in SMALL_PLAN["tasks"] if t["type"] == "TASK")
    assert done["finished_at"] is not None
    current = (await http.get("/api/waves/current", params={"spec_id": spec["id"]})).json()
    assert current["complete"] is True and current["wave"] is None and current["tasks"] == []
    progress = (await http.get(f"/api/progress/{spec['id']}")).json()
    assert progress["current_wave"] is None and progress["overall"]["percent_complete"] == 100.0

    assert_problem(
        await http.post(f"/api/specs/{spec['id']}/run", json={"concurrency": 65}),
        400,
        "INVALID_ARGUMENT",
        "concurrency",
    )
    assert_problem(await http.get(f"/api/executions/{uuid.uuid4()}"), 404, "NOT_FOUND")
    assert_problem(await http.post(f"/api/executions/{execution['id']}/cancel"), 409, "FAILED_PRECONDITION")
