"""What InsightsService runs on: the orchestrator's backends (same process, same pool),
a client of the pattern store's failure search, and the agent-log retention job."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from services.orchestrator.insights.failures import PatternFailures
from services.orchestrator.insights.retention import RetentionJob, RetentionMetrics
from services.orchestrator.runtime import OrchestratorRuntime


@dataclass
class InsightsRuntime:
    orchestrator: OrchestratorRuntime
    settings: Settings
    patterns: PatternFailures
    retention_metrics: RetentionMetrics
    retention: RetentionJob

    @classmethod
    def open(
        cls, orchestrator: OrchestratorRuntime, settings: Settings, registry: CollectorRegistry
    ) -> InsightsRuntime:
        """Needs a running event loop (the pattern store channel and the job's task)."""
        metrics = RetentionMetrics(registry)
        job = RetentionJob(
            orchestrator.db, settings.retention_interval_seconds, settings.agent_log_retention_days, metrics
        )
        return cls(orchestrator, settings, PatternFailures(settings), metrics, job)

    def start(self) -> None:
        self.retention.start()

    async def close(self) -> None:
        await self.retention.stop()
        await self.patterns.close()
