"""The pipeline-run RPCs of OrchestratorService: protobuf in, pipeline_runs calls, protobuf
out. Mixed into OrchestratorServicer, which provides `self.rt`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.json_format import MessageToDict, ParseDict

from devmatrix.v1 import orchestrator_pb2 as pb
from services.orchestrator.pipeline_runs import PipelineOutcome, StoredRun, list_runs, record
from services.orchestrator.rpc_args import request_id, require_uuid

if TYPE_CHECKING:
    from services.orchestrator.runtime import OrchestratorRuntime


def outcome_of(run: pb.PipelineRun) -> PipelineOutcome:
    summary = MessageToDict(run, preserving_proto_field_name=True)
    for server_owned in ("id", "recorded_at"):
        summary.pop(server_owned, None)
    return PipelineOutcome(
        spec_id=require_uuid(run.spec_id, "run.spec_id"),
        execution_id=require_uuid(run.execution_id, "run.execution_id") if run.execution_id else None,
        passed=run.passed,
        compliance=run.compliance,
        levels={v.level: v.passed for v in run.validation},
        health_passed=run.health.passed if run.HasField("health") else None,
        reuse_rate=run.reuse_rate,
        summary=summary,
    )


def run_to_pb(stored: StoredRun) -> pb.PipelineRun:
    run = ParseDict(stored.summary, pb.PipelineRun(), ignore_unknown_fields=True)
    run.id = stored.id
    run.recorded_at.FromDatetime(stored.recorded_at)
    return run


class PipelineRpcs:
    rt: OrchestratorRuntime

    async def RecordPipelineRun(
        self, request: pb.RecordPipelineRunRequest, context: Any
    ) -> pb.RecordPipelineRunResponse:
        stored = await record(
            self.rt.db, self.rt.pipeline_metrics, outcome_of(request.run), request_id(request.request_id)
        )
        return pb.RecordPipelineRunResponse(run=run_to_pb(stored))

    async def ListPipelineRuns(
        self, request: pb.ListPipelineRunsRequest, context: Any
    ) -> pb.ListPipelineRunsResponse:
        spec_id = require_uuid(request.spec_id, "spec_id")
        return pb.ListPipelineRunsResponse(runs=[run_to_pb(r) for r in await list_runs(self.rt.db, spec_id)])
