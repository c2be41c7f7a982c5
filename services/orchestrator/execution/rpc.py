"""The execution RPCs of OrchestratorService (leases for agents, executions, the review
queue): protobuf in, domain calls, protobuf out. Mixed into OrchestratorServicer, which
provides `self.rt`; errors are domain exceptions the shared interceptor maps."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from devmatrix.runtime.errors import FieldViolation, InvalidArgument, NotFound
from devmatrix.v1 import common_pb2
from devmatrix.v1 import orchestrator_pb2 as pb
from services.orchestrator import convert
from services.orchestrator import repository as repo
from services.orchestrator.execution import store
from services.orchestrator.execution.files import TaskFile, check_files
from services.orchestrator.leases import Outcome
from services.orchestrator.review import Decision, ReviewItem, repair_files, resolve_review, review_queue
from services.orchestrator.rpc_args import caller, request_id, require_uuid

if TYPE_CHECKING:
    from services.orchestrator.runtime import OrchestratorRuntime

MAX_LEASE_SECONDS = 3600
MAX_AGENT = 100
MAX_ERROR = 20_000


def execution_to_pb(e: store.ExecutionRecord) -> pb.Execution:
    return pb.Execution(
        id=e.id,
        spec_id=e.spec_id,
        status=pb.ExecutionStatus.Value(f"EXECUTION_STATUS_{e.status}"),
        waves_executed=e.waves_executed,
        tasks_completed=e.tasks_completed,
        tasks_failed=e.tasks_failed,
        tasks_in_review=e.tasks_in_review,
        wall_seconds=round(e.wall_seconds, 3),
        sequential_seconds=round(e.sequential_seconds, 3),
        started_at=convert.timestamp(e.started_at),
        finished_at=convert.timestamp(e.finished_at),
    )


def files_from_pb(files: Sequence[common_pb2.GeneratedFile]) -> list[TaskFile]:
    return check_files([TaskFile(f.path, f.content, f.language) for f in files])


def files_to_pb(files: Sequence[TaskFile]) -> list[common_pb2.GeneratedFile]:
    return [common_pb2.GeneratedFile(path=f.path, content=f.content, language=f.language) for f in files]


def review_item_to_pb(item: ReviewItem) -> pb.ReviewItem:
    return pb.ReviewItem(
        task=convert.task_to_pb(item.task),
        reason=item.reason,
        confidence=item.confidence or 0.0,
        files=files_to_pb(item.files),
    )


def _agent(value: str) -> str:
    agent = value.strip()
    if not agent or len(agent) > MAX_AGENT:
        raise InvalidArgument(
            "agent is required (at most 100 characters)",
            [FieldViolation("agent", f"1 to {MAX_AGENT} characters")],
        )
    return agent


def _lease_seconds(value: int) -> float | None:
    if value == 0:
        return None
    if not 1 <= value <= MAX_LEASE_SECONDS:
        raise InvalidArgument(
            f"lease_seconds must be from 1 to {MAX_LEASE_SECONDS} (0: the default), not {value}",
            [FieldViolation("lease_seconds", f"1 to {MAX_LEASE_SECONDS}, or 0")],
        )
    return float(value)


def _report(raw: str) -> dict[str, Any]:
    try:
        content = json.loads(raw or "{}")
    except json.JSONDecodeError as error:
        raise InvalidArgument(
            f"report_json is not JSON: {error}", [FieldViolation("report_json", str(error))]
        ) from None
    if not isinstance(content, dict):
        raise InvalidArgument("report_json must be a JSON object", [FieldViolation("report_json", "object")])
    return content


def _confidence(value: float) -> float | None:
    """0 is proto3's unset: an agent that reports no confidence is not held to the threshold."""
    if value == 0.0:
        return None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise InvalidArgument(
            f"confidence must be from 0 to 1, not {value}", [FieldViolation("confidence", "0 to 1")]
        )
    return value


def _decision(value: int) -> Decision:
    name = pb.ReviewDecision.Name(value) if value in pb.ReviewDecision.values() else ""
    if not name or value == pb.REVIEW_DECISION_UNSPECIFIED:
        raise InvalidArgument(
            "decision is required", [FieldViolation("decision", "APPROVE, EDIT or REGENERATE")]
        )
    return Decision(name.removeprefix("REVIEW_DECISION_"))


class ExecutionRpcs:
    rt: OrchestratorRuntime

    async def ClaimTask(self, request: pb.ClaimTaskRequest, context: Any) -> pb.ClaimTaskResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        agent = _agent(request.agent)
        lease = await self.rt.leases.claim(
            spec_id,
            owner=agent,
            agent=agent,
            skills=[s.strip() for s in request.skills if s.strip()],
            lease_seconds=_lease_seconds(request.lease_seconds),
        )
        if lease is None:
            return pb.ClaimTaskResponse()
        return pb.ClaimTaskResponse(
            task=convert.task_to_pb(lease.task),
            lease_id=lease.lease_id,
            lease_expires_at=convert.timestamp(lease.expires_at),
        )

    async def Heartbeat(self, request: pb.HeartbeatRequest, context: Any) -> pb.HeartbeatResponse:
        task_id = require_uuid(request.task_id, "task_id")
        lease_id = require_uuid(request.lease_id, "lease_id")
        expires = await self.rt.leases.heartbeat(task_id, lease_id)
        return pb.HeartbeatResponse(lease_expires_at=convert.timestamp(expires))

    async def CompleteTask(self, request: pb.CompleteTaskRequest, context: Any) -> pb.CompleteTaskResponse:
        task_id = require_uuid(request.task_id, "task_id")
        lease_id = require_uuid(request.lease_id, "lease_id")
        report = _report(request.report_json)
        outcome = Outcome(
            success=request.success,
            files=files_from_pb(request.files),
            error=request.error[:MAX_ERROR],
            report=report,
            confidence=_confidence(request.confidence),
            # An agent that ran the validations itself says so in its report.
            review_reason="validation did not pass (reported by the agent)"
            if report.get("passed") is False
            else "",
        )
        task, _ = await self.rt.leases.complete(
            task_id, lease_id, outcome, request_id=request_id(request.request_id), record_attempt=True
        )
        return pb.CompleteTaskResponse(task=convert.task_to_pb(task))

    async def ExecuteSpec(self, request: pb.ExecuteSpecRequest, context: Any) -> pb.ExecuteSpecResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        execution = await self.rt.executions.start(
            spec_id, request.concurrency, request_id(request.request_id), caller(context)
        )
        return pb.ExecuteSpecResponse(execution=execution_to_pb(execution))

    async def ExecuteWave(self, request: pb.ExecuteWaveRequest, context: Any) -> pb.ExecuteWaveResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        result = await self.rt.executions.execute_wave(
            spec_id, request.wave, request.concurrency, request_id(request.request_id), caller(context)
        )
        return pb.ExecuteWaveResponse(
            wave=result.wave, succeeded=result.succeeded, failed=result.failed, in_review=result.in_review
        )

    async def CancelExecution(
        self, request: pb.CancelExecutionRequest, context: Any
    ) -> pb.CancelExecutionResponse:
        execution_id = require_uuid(request.execution_id, "execution_id")
        execution = await self.rt.executions.cancel(execution_id, caller(context))
        return pb.CancelExecutionResponse(execution=execution_to_pb(execution))

    async def GetExecution(self, request: pb.GetExecutionRequest, context: Any) -> pb.GetExecutionResponse:
        execution_id = require_uuid(request.execution_id, "execution_id")
        return pb.GetExecutionResponse(execution=execution_to_pb(await self.rt.executions.get(execution_id)))

    async def ListReviewQueue(
        self, request: pb.ListReviewQueueRequest, context: Any
    ) -> pb.ListReviewQueueResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        items = await review_queue(self.rt.leases, spec_id)
        return pb.ListReviewQueueResponse(items=[review_item_to_pb(i) for i in items])

    async def ResolveReview(self, request: pb.ResolveReviewRequest, context: Any) -> pb.ResolveReviewResponse:
        task_id = require_uuid(request.task_id, "task_id")
        task = await resolve_review(
            self.rt.leases,
            task_id,
            _decision(request.decision),
            [TaskFile(f.path, f.content, f.language) for f in request.files],
            request.comment,
            caller(context),
            request_id(request.request_id),
        )
        return pb.ResolveReviewResponse(task=convert.task_to_pb(task))

    async def RepairTaskFiles(
        self, request: pb.RepairTaskFilesRequest, context: Any
    ) -> pb.RepairTaskFilesResponse:
        task_id = require_uuid(request.task_id, "task_id")
        scores = {"score_before": request.score_before, "score_after": request.score_after}
        for name, value in scores.items():
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidArgument(f"{name} must be from 0 to 1", [FieldViolation(name, "0 to 1")])
        task = await repair_files(
            self.rt.leases,
            task_id,
            files_from_pb(request.files),
            {"reason": request.reason[:MAX_ERROR], **scores},
            caller(context),
            request_id(request.request_id),
        )
        return pb.RepairTaskFilesResponse(task=convert.task_to_pb(task))

    async def ListTaskFiles(self, request: pb.ListTaskFilesRequest, context: Any) -> pb.ListTaskFilesResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        async with self.rt.db.pool.connection() as conn:
            if await repo.get_spec(conn, spec_id) is None:
                raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
            rows = await store.spec_files(conn, spec_id)
            counts = await store.scope_counts(conn, spec_id, None)
        unfinished = sum(n for status, n in counts.items() if status not in ("COMPLETED", "SKIPPED"))
        return pb.ListTaskFilesResponse(
            files=[
                pb.TaskFile(
                    task_id=task_id,
                    task_key=key,
                    file=common_pb2.GeneratedFile(path=path, content=content, language=language),
                )
                for task_id, key, path, content, language in rows
            ],
            tasks_unfinished=unfinished,
        )
