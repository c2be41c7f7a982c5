"""The progress event stream (server-sent events from WatchProgress) over a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.gateway.conftest import Gateway, assert_problem, create_plan, tasks_by_key


async def events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) of each event of an SSE stream; comments as ("comment", text)."""
    name, data = "", []
    async for line in lines:
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif line == "" and name:
            yield name, json.loads("\n".join(data))
            name, data = "", []


async def next_event(
    stream: AsyncIterator[tuple[str, Any]], wanted: str, task_id: str | None = None, within: float = 15.0
) -> Any:
    """The next `wanted` event (of `task_id`: its group's roll-ups are events too)."""

    async def find() -> Any:
        async for name, data in stream:
            if name == wanted and (task_id is None or data["task_id"] == task_id):
                return data
        raise AssertionError(f"the stream ended before a {wanted} event")

    return await asyncio.wait_for(find(), within)


async def test_the_stream_delivers_a_snapshot_then_status_changes(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    spec = (await create_plan(http))["spec"]
    task = (await tasks_by_key(http, spec["id"]))["analysis.scope"]
    assert task["status"] == "READY"
    async with http.stream(
        "GET", f"/api/specs/{spec['id']}/events", headers={"X-Request-Id": "sse-1"}
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert reply.headers["x-request-id"] == "sse-1"
        stream = events(reply.aiter_lines())
        snapshot = await next_event(stream, "snapshot")
        assert snapshot["spec_id"] == spec["id"] and snapshot["overall"]["ready"] >= 1
        # Idle: keep-alive comments flow.
        assert await next_event(stream, "comment") == "keep-alive"

        await gateway.orchestrator.UpdateTaskStatus(
            pb.UpdateTaskStatusRequest(
                task_id=task["id"], status=c.TASK_STATUS_RUNNING, reason="started by hand"
            )
        )
        event = await next_event(stream, "task", task["id"])
        assert event["task_id"] == task["id"] and event["task_key"] == "analysis.scope"
        assert (event["previous_status"], event["status"]) == ("READY", "RUNNING")
        assert event["reason"] == "started by hand" and event["at"] and event["spec_id"] == spec["id"]

        await gateway.orchestrator.UpdateTaskStatus(
            pb.UpdateTaskStatusRequest(task_id=task["id"], status=c.TASK_STATUS_COMPLETED, reason="done")
        )
        done = await next_event(stream, "task", task["id"])
        assert (done["previous_status"], done["status"]) == ("RUNNING", "COMPLETED")
    # The client went away: the gateway's stream (and its gRPC call) ends with it and is counted.
    counted = 'devmatrix_http_requests_total{method="GET",route="/api/specs/{spec_id}/events",status="200"}'
    for _ in range(100):
        if counted in (await http.get("/metrics")).text:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the closed stream was not counted")


async def test_an_unknown_spec_is_404_before_the_stream(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get(f"/api/specs/{uuid.uuid4()}/events"), 404, "NOT_FOUND")
    assert_problem(await http.get("/api/specs/nope/events"), 400, "INVALID_ARGUMENT", "spec_id")
