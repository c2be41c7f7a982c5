"""The orchestrator's backends, opened once per process: PostgreSQL, the graph store and
the event hub, plus its domain metrics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter

from devmatrix.runtime.config import Settings
from devmatrix.stores.graph import EmbeddedGraphStore, GraphStore, Neo4jGraphStore
from devmatrix.stores.postgres import Postgres, migrations_dir
from services.orchestrator import repository as repo
from services.orchestrator.analysis import AnalysisMetrics
from services.orchestrator.events import EventHub

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
    analysis_metrics: AnalysisMetrics = field(init=False)
    specs_created: Counter = field(init=False)
    status_changes: Counter = field(init=False)
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
        return cls(db=db, graph=graph, events=events, registry=registry)

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
        await self.events.close()
        await self.graph.close()
        await self.db.close()
