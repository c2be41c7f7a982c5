"""The embedded graph store: networkx in this process, the default when NEO4J_URI is unset.

Each spec has its own DiGraph (edge task -> dependency, i.e. DEPENDS_ON) whose nodes carry
the GraphTask; skills, agents and waves are plain maps beside it. Nothing survives the
process, so the orchestrator rebuilds the graph from PostgreSQL at start (persistent=False).

Asyncio safety: no method awaits between reading and writing its state, so each call runs
to completion without interleaving on the single event loop that uses the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx

from devmatrix.runtime.errors import AlreadyExists, NotFound
from devmatrix.stores.graph.base import (
    GraphStore,
    GraphTask,
    WaveAnalysis,
    critical_path,
    cycle_error,
    find_cycle,
    validate_graph,
)

EXECUTABLE = "TASK"


@dataclass
class _Spec:
    # Nodes are task ids with attribute "task" (a GraphTask); edge (t, d) means t DEPENDS_ON d.
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    # Wave number -> task ids IN_WAVE, as written by the last successful analyze().
    waves: dict[int, list[str]] = field(default_factory=dict)


class EmbeddedGraphStore(GraphStore):
    name = "embedded"

    def __init__(self) -> None:
        self._specs: dict[str, _Spec] = {}
        self._spec_of: dict[str, str] = {}
        # Agent name -> specialization; task id -> agent name (one agent per task).
        self._agents: dict[str, str] = {}
        self._assigned: dict[str, str] = {}

    @property
    def persistent(self) -> bool:
        return False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    async def replace_spec(
        self,
        spec_id: str,
        tasks: Sequence[GraphTask],
        depends_on: Sequence[tuple[str, str]],
    ) -> None:
        validate_graph(spec_id, tasks, depends_on)
        for task in tasks:
            owner = self._spec_of.get(task.id)
            if owner is not None and owner != spec_id:
                # Neo4j's Task.id uniqueness constraint rejects this too; keep the backends alike.
                raise AlreadyExists(f"task {task.id} already belongs to spec {owner}")
        self._drop_spec(spec_id)
        graph: nx.DiGraph = nx.DiGraph()
        # Skills are a set of REQUIRES_SKILL edges: keep them sorted and distinct, as Neo4j reads them.
        graph.add_nodes_from(
            (task.id, {"task": dataclasses.replace(task, skills=tuple(sorted(set(task.skills))))})
            for task in tasks
        )
        graph.add_edges_from(depends_on)
        self._specs[spec_id] = _Spec(graph=graph)
        for task in tasks:
            self._spec_of[task.id] = spec_id

    async def delete_spec(self, spec_id: str) -> None:
        self._drop_spec(spec_id)

    def _drop_spec(self, spec_id: str) -> None:
        spec = self._specs.pop(spec_id, None)
        if spec is None:
            return
        for task_id in spec.graph:
            self._spec_of.pop(task_id, None)
            self._assigned.pop(task_id, None)

    async def analyze(self, spec_id: str) -> WaveAnalysis:
        spec = self._specs.get(spec_id)
        if spec is None:
            return WaveAnalysis()
        graph = spec.graph
        nodes = graph.nodes
        executable = [t for t, attrs in nodes(data="task") if attrs.type == EXECUTABLE]
        is_exec = set(executable)
        succ = graph.succ
        pred = graph.pred
        # Kahn's algorithm in one pass: a task is finished once all its deps are, and at that
        # moment every dep already holds its final wave and cp.
        pending = {t: sum(1 for d in succ[t] if d in is_exec) for t in executable}
        queue = [t for t, count in pending.items() if count == 0]
        waves: dict[str, int] = {}
        cp: dict[str, int] = {}
        for task_id in queue:
            waves[task_id] = 0
            cp[task_id] = nodes[task_id]["task"].effort
        head = 0
        while head < len(queue):
            done = queue[head]
            head += 1
            for dependent in pred[done]:
                if dependent not in is_exec:
                    continue
                pending[dependent] -= 1
                if pending[dependent] == 0:
                    deps = [d for d in succ[dependent] if d in is_exec]
                    waves[dependent] = 1 + max(waves[d] for d in deps)
                    cp[dependent] = nodes[dependent]["task"].effort + max(cp[d] for d in deps)
                    queue.append(dependent)
        if len(waves) < len(executable):
            unresolved = {
                t: [d for d in succ[t] if d in is_exec and d not in waves]
                for t in executable
                if t not in waves
            }
            cycle = find_cycle(unresolved)
            raise cycle_error(spec_id, [nodes[t]["task"].key for t in cycle])
        path, effort = critical_path(
            cp,
            {t: [d for d in succ[t] if d in is_exec] for t in executable},
            {t: nodes[t]["task"].key for t in executable},
        )
        members: dict[int, list[str]] = {}
        for task_id, wave in waves.items():
            members.setdefault(wave, []).append(task_id)
        spec.waves = {wave: sorted(ids) for wave, ids in members.items()}
        return WaveAnalysis(waves=waves, critical_path=path, critical_path_effort=effort)

    def _locate(self, task_id: str) -> tuple[_Spec, GraphTask]:
        spec_id = self._spec_of.get(task_id)
        if spec_id is None:
            raise NotFound(f"task {task_id} not in the graph", resource_type="task", resource_name=task_id)
        spec = self._specs[spec_id]
        return spec, spec.graph.nodes[task_id]["task"]

    async def set_statuses(self, changes: Sequence[tuple[str, str]]) -> None:
        located = [(self._locate(task_id), task_id, status) for task_id, status in changes]
        for (spec, task), task_id, status in located:
            spec.graph.nodes[task_id]["task"] = dataclasses.replace(task, status=status)

    async def assign(self, task_id: str, agent: str, specialization: str = "") -> None:
        self._locate(task_id)
        # Like the Neo4j MERGE: an empty specialization never erases a known one.
        if specialization or agent not in self._agents:
            self._agents[agent] = specialization
        self._assigned[task_id] = agent

    async def dependencies(self, task_id: str) -> list[str]:
        spec, _ = self._locate(task_id)
        return sorted(spec.graph.succ[task_id])

    async def dependents(self, task_id: str) -> list[str]:
        spec, _ = self._locate(task_id)
        return sorted(spec.graph.pred[task_id])

    async def wave_members(self, spec_id: str, wave: int) -> list[str]:
        spec = self._specs.get(spec_id)
        if spec is None:
            return []
        return list(spec.waves.get(wave, []))

    # Introspection beyond the interface, mirrored by the Neo4j backend for the contract tests.

    async def get_task(self, task_id: str) -> GraphTask:
        return self._locate(task_id)[1]

    async def children(self, task_id: str) -> list[str]:
        spec, _ = self._locate(task_id)
        return sorted(t for t, task in spec.graph.nodes(data="task") if task.parent_id == task_id)

    async def assigned_agent(self, task_id: str) -> tuple[str, str] | None:
        """(agent name, specialization) of the task's ASSIGNED_TO edge, if any."""
        self._locate(task_id)
        agent = self._assigned.get(task_id)
        return None if agent is None else (agent, self._agents[agent])
