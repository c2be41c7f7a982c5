"""One task over HTTP: detail, status, execution (its wave), context; the review queue."""

from __future__ import annotations

import uuid

import httpx

from tests.execution.fake_codegen import ok
from tests.gateway.conftest import Gateway, assert_problem, create_plan, tasks_by_key


async def test_a_task_and_its_status(http: httpx.AsyncClient) -> None:
    spec = (await create_plan(http))["spec"]
    tasks = await tasks_by_key(http, spec["id"])
    db = tasks["setup.db"]

    detail = await http.get(f"/api/tasks/{db['id']}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert set(body) == {"task", "dependencies", "dependents", "parent"}
    assert body["task"]["key"] == "setup.db" and body["parent"]["key"] == "setup"
    key_of = {t["id"]: key for key, t in tasks.items()}
    expected = {key_of[d] for d in db["depends_on"]}
    assert "setup.scaffold" in expected and {d["key"] for d in body["dependencies"]} == expected

    status = await http.get(f"/api/tasks/{db['id']}/status")
    assert status.status_code == 200, status.text
    state = status.json()
    assert state["task_id"] == db["id"] and state["key"] == "setup.db" and state["type"] == "TASK"
    assert state["status"] == "PENDING" and state["unfinished_dependencies"] == len(expected)
    assert sorted(state["dependencies"], key=lambda d: d["key"]) == [
        {"task_id": tasks[key]["id"], "key": key, "status": tasks[key]["status"]} for key in sorted(expected)
    ]
    assert isinstance(state["version"], int) and state["spec_id"] == spec["id"]

    missing = str(uuid.uuid4())
    for path in (f"/api/tasks/{missing}", f"/api/tasks/{missing}/status"):
        assert_problem(await http.get(path), 404, "NOT_FOUND")
    assert_problem(await http.get("/api/tasks/123/status"), 400, "INVALID_ARGUMENT", "task_id")
    assert_problem(await http.post(f"/api/tasks/{missing}/execute"), 404, "NOT_FOUND")
    assert_problem(await http.post("/api/tasks/x/execute"), 400, "INVALID_ARGUMENT", "task_id")


async def test_executing_a_task_runs_its_wave(http: httpx.AsyncClient) -> None:
    spec = (await create_plan(http))["spec"]
    tasks = await tasks_by_key(http, spec["id"])
    first = tasks["analysis.scope"]
    assert first["status"] == "READY" and first["wave"] is None  # never analysed yet

    pending = await http.post(f"/api/tasks/{tasks['setup.db']['id']}/execute")
    body = assert_problem(pending, 409, "FAILED_PRECONDITION")
    assert body["precondition_violations"] == [
        {"type": "TASK_NOT_READY", "subject": tasks["setup.db"]["id"], "description": "PENDING"}
    ]
    group = assert_problem(
        await http.post(f"/api/tasks/{tasks['setup']['id']}/execute"), 409, "FAILED_PRECONDITION"
    )
    assert group["precondition_violations"][0]["type"] == "TASK_NOT_EXECUTABLE"

    ran = await http.post(f"/api/tasks/{first['id']}/execute", json={"concurrency": 1})
    assert ran.status_code == 200, ran.text
    result = ran.json()
    assert set(result) == {"task", "wave", "succeeded", "failed", "in_review"}
    assert result["task"]["id"] == first["id"] and result["task"]["status"] == "COMPLETED"
    assert result["wave"] == 0 and result["task"]["wave"] == 0
    assert result["succeeded"] >= 1 and result["failed"] == 0
    again = await http.post(f"/api/tasks/{first['id']}/execute")
    assert (
        assert_problem(again, 409, "FAILED_PRECONDITION")["precondition_violations"][0]["description"]
        == "COMPLETED"
    )
    # The wave completed, and the tasks that only waited for it are READY.
    after = await tasks_by_key(http, spec["id"])
    completed = {t["id"] for t in after.values() if t["status"] == "COMPLETED"}
    assert {t["id"] for t in after.values() if t["wave"] == 0 and t["type"] == "TASK"} <= completed
    unblocked = [
        t
        for t in after.values()
        if t["depends_on"] and set(t["depends_on"]) <= completed and t["id"] not in completed
    ]
    assert unblocked and {t["status"] for t in unblocked} == {"READY"}


async def test_a_task_context_at_each_level(http: httpx.AsyncClient) -> None:
    spec = (await create_plan(http))["spec"]
    task = (await tasks_by_key(http, spec["id"]))["api.create"]
    sizes = {}
    for level in ("minimal", "standard", "extended"):
        reply = await http.get(f"/api/tasks/{task['id']}/context", params={"level": level})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["task_id"] == task["id"] and body["level"] == level
        assert "POST /notes" in body["text"] and body["sections"] and body["token_count"] > 0
        assert body["total_bytes"] <= body["budget_bytes"]
        assert {"name", "content", "bytes", "tokens", "trimmed", "degraded", "priority"} == set(
            body["sections"][0]
        )
        sizes[level] = body["budget_bytes"]
    assert sizes["minimal"] < sizes["standard"] < sizes["extended"]
    default = (await http.get(f"/api/tasks/{task['id']}/context")).json()
    assert default["level"] == "standard"

    assert_problem(
        await http.get(f"/api/tasks/{task['id']}/context", params={"level": "huge"}),
        400,
        "INVALID_ARGUMENT",
        "level",
    )
    missing = await http.get(f"/api/tasks/{uuid.uuid4()}/context")
    assert_problem(missing, 404, "NOT_FOUND")
    assert missing.json()["service"] == "context"


async def test_the_review_queue_and_its_actions(gateway: Gateway, http: httpx.AsyncClient) -> None:
    spec = (await create_plan(http))["spec"]
    tasks = await tasks_by_key(http, spec["id"])
    first = tasks["analysis.scope"]
    gateway.codegen.script(first["id"], ok(confidence=0.2))  # under the review threshold
    ran = (await http.post(f"/api/tasks/{first['id']}/execute")).json()
    assert ran["task"]["status"] == "NEEDS_REVIEW" and ran["in_review"] == 1

    queue = await http.get("/api/review-queue", params={"spec_id": spec["id"]})
    assert queue.status_code == 200, queue.text
    items = queue.json()["items"]
    assert queue.json()["spec_id"] == spec["id"] and [i["task"]["id"] for i in items] == [first["id"]]
    item = items[0]
    assert item["confidence"] == 0.2 and item["reason"] and item["files"]
    assert set(item["files"][0]) == {"path", "content", "language"}

    regenerated = await http.post(f"/api/review-queue/{first['id']}/regenerate", json={"comment": "shorter"})
    assert regenerated.status_code == 200, regenerated.text
    assert regenerated.json()["task"]["status"] == "READY"
    assert (await http.get("/api/review-queue", params={"spec_id": spec["id"]})).json()["items"] == []
    not_waiting = await http.post(f"/api/review-queue/{first['id']}/approve")
    assert_problem(not_waiting, 409, "FAILED_PRECONDITION")

    gateway.codegen.script(first["id"], ok(confidence=0.3))
    assert (await http.post(f"/api/tasks/{first['id']}/execute")).json()["task"]["status"] == "NEEDS_REVIEW"
    approved = await http.post(
        f"/api/review-queue/{first['id']}/approve", headers={"Idempotency-Key": "approve-1"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["task"]["status"] == "COMPLETED"

    assert_problem(await http.get("/api/review-queue"), 400, "INVALID_ARGUMENT", "spec_id")
    assert_problem(
        await http.get("/api/review-queue", params={"spec_id": "x"}), 400, "INVALID_ARGUMENT", "spec_id"
    )
    assert_problem(await http.post(f"/api/review-queue/{uuid.uuid4()}/approve"), 404, "NOT_FOUND")
    assert_problem(
        await http.post(f"/api/review-queue/{first['id']}/edit", json={"files": []}),
        400,
        "INVALID_ARGUMENT",
        "files",
    )
