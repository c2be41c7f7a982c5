"""OrchestratorService: protobuf in, domain calls, protobuf out. Errors are domain
exceptions that the shared interceptor maps to status codes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from devmatrix.runtime.errors import FieldViolation, InvalidArgument, NotFound
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from services.orchestrator import convert
from services.orchestrator import repository as repo
from services.orchestrator.analysis import analyze
from services.orchestrator.execution.rpc import ExecutionRpcs
from services.orchestrator.pipeline_rpc import PipelineRpcs
from services.orchestrator.progress import progress
from services.orchestrator.rpc_args import caller, request_id, require_uuid
from services.orchestrator.runtime import OrchestratorRuntime
from services.orchestrator.specs import JSON_PLAN, MARKDOWN, create_spec
from services.orchestrator.status import update_status

MAX_REASON = 2000


class OrchestratorServicer(ExecutionRpcs, PipelineRpcs, orchestrator_pb2_grpc.OrchestratorServiceServicer):
    """The execution RPCs (leases, executions, review, files) come from ExecutionRpcs, the
    pipeline-run ones from PipelineRpcs."""

    def __init__(self, rt: OrchestratorRuntime) -> None:
        self.rt = rt

    async def CreateSpec(self, request: pb.CreateSpecRequest, context: Any) -> pb.CreateSpecResponse:
        source_field = request.WhichOneof("source")
        if source_field is None:
            raise InvalidArgument(
                "one of markdown or plan_json is required",
                [FieldViolation("source", "set markdown or plan_json")],
            )
        source = getattr(request, source_field)
        spec, created, requirement_count = await create_spec(
            self.rt.db,
            self.rt.graph,
            source,
            MARKDOWN if source_field == "markdown" else JSON_PLAN,
            request.name.strip(),
            request_id(request.request_id),
            caller(context),
        )
        if created:
            self.rt.specs_created.inc()
            self.rt.graph_loaded(spec.id)
        return pb.CreateSpecResponse(
            spec=convert.spec_to_pb(spec), created=created, requirement_count=requirement_count
        )

    async def GetSpec(self, request: pb.GetSpecRequest, context: Any) -> pb.GetSpecResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        async with self.rt.db.pool.connection() as conn:
            spec = await repo.get_spec(conn, spec_id)
            if spec is None:
                raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
            requirements = await repo.requirements(conn, spec_id)
        entities, endpoints = convert.design_to_pb(spec)
        return pb.GetSpecResponse(
            spec=convert.spec_to_pb(spec),
            requirements=[convert.requirement_to_pb(r) for r in requirements],
            entities=entities,
            endpoints=endpoints,
        )

    async def ListSpecs(self, request: pb.ListSpecsRequest, context: Any) -> pb.ListSpecsResponse:
        size = convert.page_size(request.page_size)
        after = None
        if request.page_token:
            created_at, spec_id = convert.decode_token(request.page_token, 2)
            after = (created_at, spec_id)
        async with self.rt.db.pool.connection() as conn:
            specs = await repo.list_specs(conn, after, size + 1)
        token = ""
        if len(specs) > size:
            specs = specs[:size]
            token = convert.encode_token(specs[-1].created_at.isoformat(), specs[-1].id)  # type: ignore[union-attr]
        return pb.ListSpecsResponse(specs=[convert.spec_to_pb(s) for s in specs], next_page_token=token)

    async def GetTaskTree(self, request: pb.GetTaskTreeRequest, context: Any) -> pb.GetTaskTreeResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        size = convert.page_size(request.page_size)
        after = 0
        if request.page_token:
            token_spec, position = convert.decode_token(request.page_token, 2)
            if token_spec != spec_id or not position.isdigit():
                raise InvalidArgument(
                    "page_token belongs to another query",
                    [FieldViolation("page_token", "reuse with its spec")],
                )
            after = int(position)
        async with self.rt.db.pool.connection() as conn:
            if await repo.get_spec(conn, spec_id) is None:
                raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
            tasks, total = await repo.list_tasks(
                conn,
                spec_id,
                after,
                size + 1,
                status=convert.optional_status(request.status),
                task_type=convert.optional_type(request.type),
                wave=request.wave if request.has_wave else None,
            )
        token = ""
        if len(tasks) > size:
            tasks = tasks[:size]
            token = convert.encode_token(spec_id, tasks[-1].position)
        return pb.GetTaskTreeResponse(
            tasks=[convert.task_to_pb(t) for t in tasks], next_page_token=token, total_size=total
        )

    async def GetTask(self, request: pb.GetTaskRequest, context: Any) -> pb.GetTaskResponse:
        task_id = require_uuid(request.task_id, "task_id")
        async with self.rt.db.pool.connection() as conn:
            found = await repo.task_neighbourhood(conn, task_id)
        if not found["task"]:
            raise NotFound(f"task {task_id} not found", "task", task_id)
        task, parent = found["task"][0], (found["parent"] or [None])[0]
        dependencies, dependents = found["dependency"], found["dependent"]
        return pb.GetTaskResponse(
            task=convert.task_to_pb(task),
            dependencies=[convert.task_to_pb(t) for t in dependencies],
            dependents=[convert.task_to_pb(t) for t in dependents],
            parent=convert.task_to_pb(parent) if parent else None,
        )

    async def AnalyzeDependencies(
        self, request: pb.AnalyzeDependenciesRequest, context: Any
    ) -> pb.AnalyzeDependenciesResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        await self.rt.ensure_graph(spec_id)
        return convert.analysis_to_pb(
            await analyze(self.rt.db, self.rt.graph, spec_id, self.rt.analysis_metrics)
        )

    async def UpdateTaskStatus(
        self, request: pb.UpdateTaskStatusRequest, context: Any
    ) -> pb.UpdateTaskStatusResponse:
        task_id = require_uuid(request.task_id, "task_id")
        target = convert.status_from_pb(request.status)
        if len(request.reason) > MAX_REASON:
            raise InvalidArgument(
                "reason is too long", [FieldViolation("reason", f"at most {MAX_REASON} characters")]
            )
        change = await update_status(
            self.rt.db,
            self.rt.graph,
            task_id,
            target,
            reason=request.reason,
            user=caller(context),
            request_id=request_id(request.request_id),
            expected_version=request.expected_version,
            assigned_to=request.assigned_to[:100] or None,
            ensure_graph=self.rt.ensure_graph,
        )
        for _, status in change.changed:
            self.rt.status_changes.labels(status).inc()
        return pb.UpdateTaskStatusResponse(
            task=convert.task_to_pb(change.task),
            previous_status=convert.status_to_pb(change.previous),
            unblocked_task_ids=change.unblocked,
        )

    async def GetProgress(self, request: pb.GetProgressRequest, context: Any) -> pb.GetProgressResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        return convert.progress_to_pb(await progress(self.rt.db, spec_id))

    async def WatchProgress(
        self, request: pb.WatchProgressRequest, context: Any
    ) -> AsyncIterator[pb.WatchProgressResponse]:
        spec_id = require_uuid(request.spec_id, "spec_id")
        # Subscribe before the snapshot so no event between the two is lost.
        async with self.rt.events.subscribe(spec_id) as queue:
            snapshot = await progress(self.rt.db, spec_id)  # NotFound for an unknown spec
            if request.include_snapshot:
                yield pb.WatchProgressResponse(snapshot=convert.progress_to_pb(snapshot))
            while (event := await queue.get()) is not None:
                yield pb.WatchProgressResponse(task_event=convert.event_to_pb(event))

    async def GetAuditLog(self, request: pb.GetAuditLogRequest, context: Any) -> pb.GetAuditLogResponse:
        entity_id = require_uuid(request.entity_id, "entity_id")
        size = convert.page_size(request.page_size)
        offset = 0
        if request.page_token:
            (raw,) = convert.decode_token(request.page_token, 1)
            offset = int(raw) if raw.isdigit() else 0
        async with self.rt.db.pool.connection() as conn:
            entries = await repo.audit_entries(conn, entity_id, offset, size + 1)
        token = convert.encode_token(offset + size) if len(entries) > size else ""
        return pb.GetAuditLogResponse(
            entries=[convert.audit_to_pb(e) for e in entries[:size]], next_page_token=token
        )

    async def AddReport(self, request: pb.AddReportRequest, context: Any) -> pb.AddReportResponse:
        task_id = require_uuid(request.task_id, "task_id")
        if request.type == pb.REPORT_TYPE_UNSPECIFIED or request.type not in pb.ReportType.values():
            raise InvalidArgument("type is required", [FieldViolation("type", "a report type")])
        try:
            content = json.loads(request.content_json or "{}")
        except json.JSONDecodeError as error:
            raise InvalidArgument(
                f"content_json is not JSON: {error}", [FieldViolation("content_json", str(error))]
            ) from None
        if not isinstance(content, dict):
            raise InvalidArgument(
                "content_json must be a JSON object", [FieldViolation("content_json", "object")]
            )
        async with self.rt.db.pool.connection() as conn, conn.transaction():
            if await repo.get_task(conn, task_id) is None:
                raise NotFound(f"task {task_id} not found", "task", task_id)
            report = await repo.insert_report(
                conn,
                task_id,
                pb.ReportType.Name(request.type).removeprefix("REPORT_TYPE_"),
                content,
                request_id(request.request_id),
            )
        return pb.AddReportResponse(report=convert.report_to_pb(report))

    async def ListReports(self, request: pb.ListReportsRequest, context: Any) -> pb.ListReportsResponse:
        task_id = require_uuid(request.task_id, "task_id")
        async with self.rt.db.pool.connection() as conn:
            if await repo.get_task(conn, task_id) is None:
                raise NotFound(f"task {task_id} not found", "task", task_id)
            reports = await repo.reports(conn, task_id)
        return pb.ListReportsResponse(reports=[convert.report_to_pb(r) for r in reports])
