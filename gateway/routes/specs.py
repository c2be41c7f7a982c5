"""Specs, their task lists and their executions (OrchestratorService)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from devmatrix.v1 import orchestrator_pb2 as pb
from gateway import convert
from gateway import models as m
from gateway.deps import ClientsDep, IdempotencyKey
from gateway.errors import ApiError, UpstreamError, problems

router = APIRouter(tags=["specs"])
SpecId = Annotated[str, Path(description="The spec's id (a UUID).")]
ExecutionId = Annotated[str, Path(description="The execution's id (a UUID).")]


def _markdown_field(field: str) -> str:
    """The orchestrator names the markdown `text`; the request calls it `markdown`."""
    return "markdown" if field == "text" else field


def _plan_field(field: str) -> str:
    """`plan_json` is the request's `plan`; a path inside the plan is under `plan`."""
    if field in ("plan_json", ""):
        return "plan"
    return f"plan{field}" if field.startswith("[") else f"plan.{field}"


@router.post(
    "/api/specs",
    status_code=status.HTTP_201_CREATED,
    response_model=m.SpecCreated,
    responses={
        200: {"model": m.SpecCreated, "description": "Replayed: the Idempotency-Key was seen before."},
        **problems(413),
    },
    summary="Create a spec from markdown or a JSON plan (CreateSpec)",
)
async def create_spec(
    body: m.CreateSpecBody, response: Response, clients: ClientsDep, idempotency_key: IdempotencyKey = ""
) -> m.SpecCreated:
    """Stores the spec and its task hierarchy. A malformed spec or plan is 400 naming what is wrong."""
    if (body.markdown is None) == (body.plan is None):
        raise ApiError(
            400,
            "set exactly one of markdown or plan",
            fields=[("markdown", "a markdown spec, or"), ("plan", "a JSON plan object")],
        )
    request = pb.CreateSpecRequest(request_id=idempotency_key, name=body.name.strip())
    if body.markdown is not None:
        request.markdown = body.markdown
    else:
        request.plan_json = json.dumps(body.plan)
    try:
        reply = await clients.orchestrator.CreateSpec(request)
    except UpstreamError as error:
        error.rename = _markdown_field if body.markdown is not None else _plan_field
        raise
    response.status_code = status.HTTP_201_CREATED if reply.created else status.HTTP_200_OK
    response.headers["Location"] = f"/api/specs/{reply.spec.id}"
    return m.SpecCreated(
        spec=convert.spec(reply.spec), created=reply.created, requirement_count=reply.requirement_count
    )


@router.get("/api/specs", response_model=m.SpecList, responses=problems(), summary="List specs (ListSpecs)")
async def list_specs(
    clients: ClientsDep,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str, Query(max_length=1000)] = "",
) -> m.SpecList:
    reply = await clients.orchestrator.ListSpecs(
        pb.ListSpecsRequest(page_size=page_size, page_token=page_token)
    )
    return m.SpecList(
        specs=[convert.spec(s) for s in reply.specs], next_page_token=reply.next_page_token or None
    )


@router.get(
    "/api/specs/{spec_id}", response_model=m.SpecDetail, responses=problems(404), summary="A spec (GetSpec)"
)
async def get_spec(spec_id: SpecId, clients: ClientsDep) -> m.SpecDetail:
    reply = await clients.orchestrator.GetSpec(pb.GetSpecRequest(spec_id=spec_id))
    return m.SpecDetail(
        spec=convert.spec(reply.spec), requirements=[convert.requirement(r) for r in reply.requirements]
    )


@router.get(
    "/api/specs/{spec_id}/tasks",
    response_model=m.TaskPage,
    responses=problems(404),
    summary="A spec's tasks in hierarchy order, paginated and filtered (GetTaskTree)",
)
async def list_tasks(
    spec_id: SpecId,
    clients: ClientsDep,
    page_size: Annotated[int, Query(ge=1, le=2000)] = 100,
    page_token: Annotated[
        str, Query(max_length=1000, description="next_page_token of the previous page.")
    ] = "",
    status: Annotated[m.TaskStatus | None, Query(description="Only tasks in this status.")] = None,
    type: Annotated[m.TaskType | None, Query(description="Only tasks of this level.")] = None,
    wave: Annotated[int | None, Query(ge=0, description="Only tasks of this execution wave.")] = None,
) -> m.TaskPage:
    request = pb.GetTaskTreeRequest(spec_id=spec_id, page_size=page_size, page_token=page_token)
    if status is not None:
        request.status = convert.status_to_pb(status)  # type: ignore[assignment]
    if type is not None:
        request.type = convert.type_to_pb(type)  # type: ignore[assignment]
    if wave is not None:
        request.has_wave, request.wave = True, wave
    reply = await clients.orchestrator.GetTaskTree(request)
    return m.TaskPage(
        tasks=[convert.task(t) for t in reply.tasks],
        next_page_token=reply.next_page_token or None,
        total_size=reply.total_size,
    )


@router.post(
    "/api/specs/{spec_id}/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=m.Execution,
    responses=problems(404, 409, 413),
    summary="Execute every wave of a spec (ExecuteSpec)",
)
async def run_spec(
    spec_id: SpecId,
    response: Response,
    clients: ClientsDep,
    body: m.RunBody | None = None,
    idempotency_key: IdempotencyKey = "",
) -> m.Execution:
    """Starts an execution and answers it RUNNING at once; its waves run in the orchestrator
    (codegen for each task). Follow it with GET /api/executions/{id} or the spec's event
    stream. 409 ALREADY_EXISTS when an execution of the spec is running, naming it."""
    reply = await clients.orchestrator.ExecuteSpec(
        pb.ExecuteSpecRequest(
            request_id=idempotency_key, spec_id=spec_id, concurrency=body.concurrency if body else 0
        )
    )
    response.headers["Location"] = f"/api/executions/{reply.execution.id}"
    return convert.execution(reply.execution)


@router.get(
    "/api/executions/{execution_id}",
    response_model=m.Execution,
    responses=problems(404),
    summary="An execution's state and counts (GetExecution)",
)
async def get_execution(execution_id: ExecutionId, clients: ClientsDep) -> m.Execution:
    reply = await clients.orchestrator.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    return convert.execution(reply.execution)


@router.post(
    "/api/executions/{execution_id}/cancel",
    response_model=m.Execution,
    responses=problems(404, 409),
    summary="Cancel a running execution (CancelExecution)",
)
async def cancel_execution(execution_id: ExecutionId, clients: ClientsDep) -> m.Execution:
    """Its workers stop and their tasks go back to READY. 409 when it is no longer running."""
    reply = await clients.orchestrator.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id))
    return convert.execution(reply.execution)
