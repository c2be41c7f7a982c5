"""A spec's progress as server-sent events, from OrchestratorService.WatchProgress."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse

from devmatrix.v1 import orchestrator_pb2 as pb
from gateway import convert
from gateway.deps import ClientsDep, SettingsDep
from gateway.errors import UpstreamError, problems, request_id_of, upstream_problem

router = APIRouter(tags=["progress"])
RETRY_MS = 3000
EVENTS_DESCRIPTION = """
A `text/event-stream` of the spec's progress, for as long as the client stays:

- `event: snapshot`, first: the spec's progress (the body of GET /api/progress/{spec_id});
- `event: task`, for every status change as it happens: a TaskEvent (`task_id`, `task_key`,
  `previous_status`, `status`, `reason`, `actor`, `at`);
- `event: error`: the stream broke (a problem body); `event: end`: the orchestrator closed
  the stream (it is shutting down). EventSource clients reconnect by themselves.

Comments (`: keep-alive`) are sent every GATEWAY_KEEPALIVE_SECONDS while nothing happens.
An unknown spec is 404 before the stream starts.
"""


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _message(reply: pb.WatchProgressResponse) -> bytes:
    if reply.WhichOneof("event") == "snapshot":
        return sse("snapshot", convert.progress(reply.snapshot).model_dump(mode="json"))
    return sse("task", convert.task_event(reply.task_event).model_dump(mode="json"))


async def _first(call: Any) -> pb.WatchProgressResponse | None:
    """The first message (the snapshot), so an unknown spec is an HTTP error, not a stream."""
    try:
        reply = await call.read()
    except grpc.aio.AioRpcError as error:
        raise UpstreamError("orchestrator", error) from None
    return None if reply is grpc.aio.EOF else reply


async def _events(
    request: Request, call: Any, first: pb.WatchProgressResponse | None, keepalive: float
) -> AsyncIterator[bytes]:
    pending: asyncio.Future[Any] | None = None
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        if first is None:
            yield sse("end", {})
            return
        yield _message(first)
        while True:
            if pending is None:
                pending = asyncio.ensure_future(call.read())
            done, _ = await asyncio.wait({pending}, timeout=keepalive)
            if not done:
                if await request.is_disconnected():  # servers that do not fail the next send
                    return
                yield b": keep-alive\n\n"
                continue
            try:
                reply = pending.result()
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.CANCELLED:
                    yield sse("end", {})
                else:
                    yield sse(
                        "error",
                        upstream_problem(
                            UpstreamError("orchestrator", error), request_id_of(request)
                        ).model_dump(mode="json"),
                    )
                return
            pending = None
            if reply is grpc.aio.EOF:
                yield sse("end", {})
                return
            yield _message(reply)
    finally:
        call.cancel()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await pending


@router.get(
    "/api/specs/{spec_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The event stream.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problems(404),
    },
    summary="Live progress of a spec as server-sent events (WatchProgress)",
    description=EVENTS_DESCRIPTION,
)
async def spec_events(
    spec_id: Annotated[str, Path(description="The spec's id (a UUID).")],
    request: Request,
    clients: ClientsDep,
    settings: SettingsDep,
) -> StreamingResponse:
    stub = clients.orchestrator.stub
    call = stub.WatchProgress(pb.WatchProgressRequest(spec_id=spec_id, include_snapshot=True))
    try:
        first = await _first(call)
    except BaseException:
        call.cancel()
        raise
    return StreamingResponse(
        _events(request, call, first, settings.gateway_keepalive_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
