"""One task: its detail, its status, its execution and its context."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import context_pb2
from devmatrix.v1 import orchestrator_pb2 as pb
from gateway import convert
from gateway import models as m
from gateway.deps import ClientsDep, IdempotencyKey, SettingsDep
from gateway.errors import ApiError, problems

router = APIRouter(tags=["tasks"])
TaskId = Annotated[str, Path(description="The task's id (a UUID).")]
# A wave-scoped execution retries FAILED tasks and runs READY ones; anything else has nothing to run.
EXECUTABLE = (c.TASK_STATUS_READY, c.TASK_STATUS_FAILED)
EXECUTE_DESCRIPTION = """
There is no single-task execution RPC: this runs **the task's wave** (`ExecuteWave`), the
unit the orchestrator schedules, and waits for it. The wave's other READY (or FAILED)
tasks run with it, up to `concurrency` at a time; tasks of other waves are not touched.
The spec is analysed first if it never was.

Only a TASK whose status is READY or FAILED (a failed task is retried) can be executed:
anything else is 409 FAILED_PRECONDITION (`TASK_NOT_EXECUTABLE` for phases, groups and
subtasks; `TASK_NOT_READY` naming the status, e.g. PENDING while its dependencies are
unfinished). The answer is the task after the wave and the wave's counts. The call waits
at most GATEWAY_EXECUTE_TIMEOUT_SECONDS (504 after that; the wave goes on). External
agents that want one task use the lease RPCs (ClaimTask / CompleteTask) instead.
"""


@router.get(
    "/api/tasks/{task_id}",
    response_model=m.TaskDetail,
    responses=problems(404),
    summary="A task with its dependencies, dependents and parent (GetTask)",
)
async def get_task(task_id: TaskId, clients: ClientsDep) -> m.TaskDetail:
    reply = await clients.orchestrator.GetTask(pb.GetTaskRequest(task_id=task_id))
    return m.TaskDetail(
        task=convert.task(reply.task),
        dependencies=[convert.task(t) for t in reply.dependencies],
        dependents=[convert.task(t) for t in reply.dependents],
        parent=convert.task(reply.parent) if reply.HasField("parent") and reply.parent.id else None,
    )


@router.get(
    "/api/tasks/{task_id}/status",
    response_model=m.TaskState,
    responses=problems(404),
    summary="A task's status and its dependencies' (GetTask)",
)
async def task_status(task_id: TaskId, clients: ClientsDep) -> m.TaskState:
    return convert.task_state(await clients.orchestrator.GetTask(pb.GetTaskRequest(task_id=task_id)))


@router.post(
    "/api/tasks/{task_id}/execute",
    response_model=m.TaskExecution,
    responses=problems(404, 409, 413),
    summary="Execute a task by running its wave (ExecuteWave)",
    description=EXECUTE_DESCRIPTION,
)
async def execute_task(
    task_id: TaskId,
    clients: ClientsDep,
    settings: SettingsDep,
    body: m.RunBody | None = None,
    idempotency_key: IdempotencyKey = "",
) -> m.TaskExecution:
    task = (await clients.orchestrator.GetTask(pb.GetTaskRequest(task_id=task_id))).task
    if task.type != c.TASK_TYPE_TASK:
        kind = convert.enum_name(c.TaskType, task.type, "TASK_TYPE_")
        raise ApiError(
            409,
            f"task {task.key} is a {kind}: only a TASK is executed",
            preconditions=[("TASK_NOT_EXECUTABLE", task.id, f"a {kind} is not executable")],
        )
    if task.status not in EXECUTABLE:
        state = convert.enum_name(c.TaskStatus, task.status, "TASK_STATUS_")
        raise ApiError(
            409,
            f"task {task.key} is {state}: only a READY or FAILED task can be executed",
            preconditions=[("TASK_NOT_READY", task.id, state)],
        )
    if task.wave < 0:  # never analysed: the waves are computed first
        await clients.orchestrator.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=task.spec_id))
        task = (await clients.orchestrator.GetTask(pb.GetTaskRequest(task_id=task_id))).task
    ran = await clients.orchestrator.ExecuteWave(
        pb.ExecuteWaveRequest(
            request_id=idempotency_key,
            spec_id=task.spec_id,
            wave=task.wave,
            concurrency=body.concurrency if body else 0,
        ),
        deadline=settings.gateway_execute_timeout_seconds,
    )
    after = (await clients.orchestrator.GetTask(pb.GetTaskRequest(task_id=task_id))).task
    return m.TaskExecution(
        task=convert.task(after),
        wave=ran.wave,
        succeeded=ran.succeeded,
        failed=ran.failed,
        in_review=ran.in_review,
    )


@router.get(
    "/api/tasks/{task_id}/context",
    response_model=m.TaskContext,
    responses=problems(404),
    summary="The context an agent gets for the task (ContextService.GetContext)",
)
async def task_context(
    task_id: TaskId,
    clients: ClientsDep,
    level: Annotated[
        m.ContextLevel, Query(description="minimal (3 KB), standard (8 KB) or extended (15 KB).")
    ] = m.ContextLevel.standard,
    bypass_cache: bool = False,
) -> m.TaskContext:
    """The sections left out because the patterns or skills service was slow or down are
    listed in degraded_sections: the context still comes back."""
    reply = await clients.context.GetContext(
        context_pb2.GetContextRequest(task_id=task_id, level=convert.LEVELS[level], bypass_cache=bypass_cache)
    )
    return convert.context(reply, level)
