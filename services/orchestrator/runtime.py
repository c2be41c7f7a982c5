"""The orchestrator's backends, opened once per process: PostgreSQL, the graph store and
the event hub, plus its domain metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from devmatrix.runtime.config import Settings
from devmatrix.stores.graph import EmbeddedGraphStore, GraphStore, Neo4jGraphStore
from devmatrix.stores.postgres import Postgres, migrations_dir
from services.orchestrator import repository as repo
from services.orchestrator.analysis import AnalysisMetrics, analyze
from services.orchestrator.events import EventHub
from services.orchestrator.execution.codegen import CodegenClient
from services.orchestrator.execution.metrics import ExecutionMetrics
from services.orchestrator.execution.runner import ExecutionRunner
from services.orchestrator.execution.service import Executions
from services.orchestrator.execution.worker import TaskWorker, WorkerConfig
from services.orchestrator.leases import LeaseManager, TaskChanges
from services.orchestrator.pipeline_runs import PipelineMetrics

SCHEMA = "orchestrator"


def open_graph(settings: Settings) -> GraphStore:
    if settings.neo4j_uri:
        return Neo4jGraphStore(settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password)
    return EmbeddedGraphStore()


@dataclass
class OrchestratorRuntime:
    db: Postgres
    graph: GraphStore
    events: EventHub
    registry: CollectorRegistry
    # None: the defaults (an orchestrator built without settings, e.g. by a benchmark).
    settings: Settings | None = None
    analysis_metrics: AnalysisMetrics = field(init=False)
    specs_created: Counter = field(init=False)
    status_changes: Counter = field(init=False)
    execution_metrics: ExecutionMetrics = field(init=False)
    pipeline_metrics: PipelineMetrics = field(init=False)
    # Task changes outside UpdateTaskStatus (leases, reviews, executions) share this path.
    changes: TaskChanges = field(init=False)
    leases: LeaseManager = field(init=False)
    codegen: CodegenClient = field(init=False)
    runner: ExecutionRunner = field(init=False)
    executions: Executions = field(init=False)
    _loaded: set[str] = field(default_factory=set)
    _load_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.analysis_metrics = AnalysisMetrics(self.registry)
        self.specs_created = Counter("devmatrix_specs_created", "Specs ingested.", registry=self.registry)
        self.status_changes = Counter(
            "devmatrix_task_status_changes",
            "Task status changes by new status.",
            ("status",),
            registry=self.registry,
        )
        self._init_execution(self.settings or Settings(data_dir=Path(".devmatrix")))

    def _init_execution(self, settings: Settings) -> None:
        self.execution_metrics = ExecutionMetrics(self.registry)
        self.pipeline_metrics = PipelineMetrics(self.registry)
        self.changes = TaskChanges(self.db, self.graph, self.ensure_graph, self._count_changes)
        self.leases = LeaseManager(
            self.changes,
            settings.lease_seconds,
            settings.review_confidence_threshold,
            self.execution_metrics,
        )
        self.codegen = CodegenClient(
            settings.addr("codegen"), settings.task_timeout_seconds, settings.max_message_bytes
        )
        worker = TaskWorker(
            self.leases,
            self.codegen,
            WorkerConfig(
                settings.lease_seconds, settings.task_max_attempts, settings.task_retry_backoff_seconds
            ),
            self.execution_metrics,
        )
        # Often enough to take a dead holder's task over soon after its lease expires.
        poll = min(max(settings.lease_seconds / 4, 0.1), 5.0)
        self.runner = ExecutionRunner(
            self.db, self.leases, worker, self.execution_metrics, poll, self.ensure_graph
        )
        self.executions = Executions(self.changes, self.runner, self._analyze, settings.execution_concurrency)

    def _count_changes(self, changed: list[tuple[str, str]]) -> None:
        for _, status in changed:
            self.status_changes.labels(status).inc()

    async def _analyze(self, spec_id: str) -> None:
        await analyze(self.db, self.graph, spec_id, self.analysis_metrics)

    @classmethod
    async def open(cls, settings: Settings, registry: CollectorRegistry) -> OrchestratorRuntime:
        db = await Postgres.open(
            settings.database_url,
            settings.data_dir,
            settings.db_pool_size,
            migrations_dir(__file__),
            SCHEMA,
        )
        graph = open_graph(settings)
        await graph.start()
        events = EventHub(db)
        await events.start()
        runtime = cls(db=db, graph=graph, events=events, registry=registry, settings=settings)
        # Executions a previous process left RUNNING (it died) continue here.
        await runtime.runner.resume()
        return runtime

    def graph_loaded(self, spec_id: str) -> None:
        """The spec was just written to the graph (CreateSpec): no need to load it again."""
        self._loaded.add(spec_id)

    async def ensure_graph(self, spec_id: str) -> None:
        """An in-process graph starts empty: load a spec into it from PostgreSQL on first use."""
        if self.graph.persistent or spec_id in self._loaded:
            return
        async with self._load_lock:
            if spec_id in self._loaded:
                return
            async with self.db.pool.connection() as conn:
                tasks, edges, assigned = await repo.spec_graph(conn, spec_id)
            if tasks:
                await self.graph.replace_spec(spec_id, tasks, edges)
                for task_id, agent in assigned.items():
                    await self.graph.assign(task_id, agent)
            self._loaded.add(spec_id)

    async def ready(self) -> bool:
        return await self.db.ready() and await self.graph.ping()

    async def close(self) -> None:
        # Workers first: they give their tasks back while the database is still open.
        await self.runner.close()
        await self.codegen.close()
        await self.events.close()
        await self.graph.close()
        await self.db.close()
