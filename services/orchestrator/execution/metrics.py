"""Domain metrics of execution on the orchestrator's registry (seed 003's candidates)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

RESULTS = ("completed", "failed", "review")
# Task status a completion ends in -> the `result` label.
RESULT_OF = {"COMPLETED": "completed", "FAILED": "failed", "NEEDS_REVIEW": "review"}


class ExecutionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.waves_executed = Counter(
            "devmatrix_execution_waves_executed", "Waves in which an execution ran tasks.", registry=registry
        )
        self.tasks = Counter(
            "devmatrix_execution_tasks",
            "Tasks finished by an execution or an agent, by result.",
            ("result",),
            registry=registry,
        )
        for result in RESULTS:  # present at 0, so rate() and ratios work from the start
            self.tasks.labels(result)
        self.retries = Counter(
            "devmatrix_execution_retries",
            "GenerateCode attempts retried after a transient failure.",
            registry=registry,
        )
        self.retries_exhausted = Counter(
            "devmatrix_execution_retries_exhausted",
            "Tasks that failed after their last attempt, every one a transient failure.",
            registry=registry,
        )
        self.wave_seconds = Histogram(
            "devmatrix_execution_wave_seconds",
            "Wall time of one wave of an execution.",
            buckets=(0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=registry,
        )
        self.parallelism = Gauge(
            "devmatrix_execution_parallelism", "Execution workers busy with a task.", registry=registry
        )
        self.review_queue = Gauge(
            "devmatrix_review_queue_size", "Tasks waiting for a human review.", registry=registry
        )
        self.cost = Counter(
            "devmatrix_execution_cost_usd", "LLM cost of generation attempts, in USD.", registry=registry
        )

    def finished(self, status: str) -> None:
        result = RESULT_OF.get(status)
        if result:
            self.tasks.labels(result).inc()
