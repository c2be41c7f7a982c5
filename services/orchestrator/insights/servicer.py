"""InsightsService: protobuf in, domain calls, protobuf out. Errors are domain exceptions
that the shared interceptor maps to status codes."""

from __future__ import annotations

from typing import Any

from devmatrix.v1 import insights_pb2 as pb
from devmatrix.v1 import insights_pb2_grpc
from services.orchestrator.insights import convert, learning, monitor
from services.orchestrator.insights.failures import similar_failures
from services.orchestrator.insights.retention import run_retention
from services.orchestrator.insights.runtime import InsightsRuntime


class InsightsServicer(insights_pb2_grpc.InsightsServiceServicer):
    def __init__(self, rt: InsightsRuntime) -> None:
        self.rt = rt
        self.orch = rt.orchestrator

    async def GetSpecProgress(
        self, request: pb.GetSpecProgressRequest, context: Any
    ) -> pb.GetSpecProgressResponse:
        spec_id = convert.require_uuid(request.spec_id, "spec_id")
        found = await monitor.spec_progress(self.orch, spec_id)
        return pb.GetSpecProgressResponse(progress=convert.spec_progress_to_pb(found))

    async def GetWaveStatus(self, request: pb.GetWaveStatusRequest, context: Any) -> pb.GetWaveStatusResponse:
        spec_id = convert.require_uuid(request.spec_id, "spec_id")
        return convert.wave_status_to_pb(await monitor.wave_status(self.orch, spec_id, request.wave))

    async def GetAgentWorkload(
        self, request: pb.GetAgentWorkloadRequest, context: Any
    ) -> pb.GetAgentWorkloadResponse:
        spec_id = convert.require_uuid(request.spec_id, "spec_id")
        agents = await monitor.agent_workload(self.orch, spec_id)
        return pb.GetAgentWorkloadResponse(spec_id=spec_id, agents=[convert.agent_to_pb(a) for a in agents])

    async def GetDashboard(self, request: pb.GetDashboardRequest, context: Any) -> pb.GetDashboardResponse:
        spec_id = convert.require_uuid(request.spec_id, "spec_id")
        return convert.dashboard_to_pb(await monitor.dashboard(self.orch, spec_id))

    async def FindSimilarFailures(
        self, request: pb.FindSimilarFailuresRequest, context: Any
    ) -> pb.FindSimilarFailuresResponse:
        text = convert.text(request.text)
        top_k = convert.bounded(request.top_k, "top_k", convert.DEFAULT_TOP_K, convert.MAX_TOP_K)
        threshold = convert.unit(request.similarity_threshold, "similarity_threshold")
        found = await similar_failures(
            self.orch.db, self.rt.patterns, text, top_k, threshold, context.time_remaining()
        )
        return pb.FindSimilarFailuresResponse(
            failures=found.stored,
            attempt_failures=[convert.attempt_failure_to_pb(f) for f in found.attempts],
            pattern_store_degraded=found.degraded,
        )

    async def GetEstimateCorrection(
        self, request: pb.GetEstimateCorrectionRequest, context: Any
    ) -> pb.GetEstimateCorrectionResponse:
        kind, since = convert.kind(request.kind), convert.since(request)
        return convert.corrections_to_pb(await learning.estimate_corrections(self.orch.db, kind, since))

    async def GetScopeCreep(self, request: pb.GetScopeCreepRequest, context: Any) -> pb.GetScopeCreepResponse:
        spec_id = convert.require_uuid(request.spec_id, "spec_id")
        return convert.scope_creep_to_pb(await learning.scope_creep(self.orch.db, spec_id))

    async def GetSlowestAgents(
        self, request: pb.GetSlowestAgentsRequest, context: Any
    ) -> pb.GetSlowestAgentsResponse:
        limit = convert.bounded(request.limit, "limit", convert.DEFAULT_LIMIT, convert.MAX_LIMIT)
        since = convert.since(request)
        spec_id = convert.require_uuid(request.spec_id, "spec_id") if request.spec_id else None
        agents = await learning.slowest_agents(self.orch.db, limit, since, spec_id)
        return pb.GetSlowestAgentsResponse(agents=[convert.latency_to_pb(a) for a in agents])

    async def RunRetention(self, request: pb.RunRetentionRequest, context: Any) -> pb.RunRetentionResponse:
        days = convert.retention_days(request.retention_days, self.rt.settings.agent_log_retention_days)
        result = await run_retention(
            self.orch.db, days, dry_run=request.dry_run, metrics=self.rt.retention_metrics
        )
        return convert.retention_to_pb(result)
