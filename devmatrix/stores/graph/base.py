"""The dependency-graph store: one interface, an embedded and a Neo4j backend.

Both backends hold the same model (nodes Task, Skill, Agent, Wave; edges DEPENDS_ON,
REQUIRES_SKILL, ASSIGNED_TO, IN_WAVE, PARENT_OF) and must give identical analyses:
the congruence is checked by one contract suite run against both.

Analysis covers the executable tasks (type TASK) and the DEPENDS_ON edges between
them; dependencies declared on phases or groups are expanded before they get here.

Definitions both backends follow to the letter:
- wave(t) = 0 without dependencies, else 1 + max(wave(d) for d in deps(t));
- cp(t) = effort(t) + max(cp(d) for d in deps(t), default 0); the critical path ends
  at the task with the largest cp (ties: smallest key) and walks back through the
  dependency with the largest cp (ties: smallest key); it is returned first task first.
  Keys, not ids, break ties so the same plan gives the same path whatever ids it got;
- a cycle makes analyze() raise DependencyCycle naming the task keys of one cycle,
  in dependency order, the first key repeated at the end.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from devmatrix.runtime.errors import (
    DependencyCycle,
    FieldViolation,
    InvalidArgument,
)


@dataclass(frozen=True)
class GraphTask:
    id: str
    spec_id: str
    key: str
    name: str
    type: str
    status: str = "PENDING"
    effort: int = 1
    phase: int = 0
    kind: str = "GENERIC"
    parent_id: str | None = None
    skills: tuple[str, ...] = ()


@dataclass
class WaveAnalysis:
    # Task id -> wave number, for every TASK of the spec.
    waves: dict[str, int] = field(default_factory=dict)
    critical_path: list[str] = field(default_factory=list)
    critical_path_effort: int = 0

    def by_wave(self) -> list[list[str]]:
        """Task ids grouped by wave, each wave sorted by id."""
        grouped: list[list[str]] = [[] for _ in range(max(self.waves.values(), default=-1) + 1)]
        for task_id, wave in self.waves.items():
            grouped[wave].append(task_id)
        return [sorted(ids) for ids in grouped]


class GraphStore(abc.ABC):
    """Async dependency-graph store."""

    name: str

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and create constraints and indexes (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the backend answers; used by health checking."""

    @property
    @abc.abstractmethod
    def persistent(self) -> bool:
        """False when the graph lives only in this process and must be rebuilt at start."""

    @abc.abstractmethod
    async def replace_spec(
        self,
        spec_id: str,
        tasks: Sequence[GraphTask],
        depends_on: Sequence[tuple[str, str]],
    ) -> None:
        """Store the spec's whole graph, replacing any previous one.

        `depends_on` holds (task id, dependency id) pairs between TASK nodes.
        PARENT_OF edges come from parent_id and REQUIRES_SKILL edges from skills.
        """

    @abc.abstractmethod
    async def delete_spec(self, spec_id: str) -> None: ...

    @abc.abstractmethod
    async def analyze(self, spec_id: str) -> WaveAnalysis:
        """Compute waves and the critical path; write Wave nodes and IN_WAVE edges."""

    @abc.abstractmethod
    async def set_statuses(self, changes: Sequence[tuple[str, str]]) -> None:
        """Set the status of each (task id, status), all or none; unknown ids raise NotFound."""

    @abc.abstractmethod
    async def assign(self, task_id: str, agent: str, specialization: str = "") -> None:
        """Record an Agent node and the task's ASSIGNED_TO edge (one agent per task)."""

    @abc.abstractmethod
    async def dependencies(self, task_id: str) -> list[str]:
        """Ids of the tasks `task_id` depends on, sorted."""

    @abc.abstractmethod
    async def dependents(self, task_id: str) -> list[str]:
        """Ids of the tasks that depend on `task_id`, sorted."""

    @abc.abstractmethod
    async def wave_members(self, spec_id: str, wave: int) -> list[str]:
        """Ids of the tasks IN_WAVE the spec's wave `wave` (after analyze), sorted."""


# Shared helpers: both backends validate input and derive the critical path and the named
# cycle with the same code, so the contract holds by construction where it can.


def validate_graph(spec_id: str, tasks: Sequence[GraphTask], depends_on: Sequence[tuple[str, str]]) -> None:
    """Reject a graph that a backend could only store partially (dangling ids, duplicates)."""
    violations: list[FieldViolation] = []
    ids: set[str] = set()
    for index, task in enumerate(tasks):
        if task.id in ids:
            violations.append(FieldViolation(f"tasks[{index}].id", f"duplicate task id {task.id!r}"))
        ids.add(task.id)
        if task.spec_id != spec_id:
            violations.append(
                FieldViolation(f"tasks[{index}].spec_id", f"{task.spec_id!r} is not spec {spec_id!r}")
            )
    for index, task in enumerate(tasks):
        if task.parent_id is not None and task.parent_id not in ids:
            violations.append(
                FieldViolation(f"tasks[{index}].parent_id", f"unknown parent {task.parent_id!r}")
            )
    for index, (task_id, dep_id) in enumerate(depends_on):
        for role, value in (("task", task_id), ("dependency", dep_id)):
            if value not in ids:
                violations.append(FieldViolation(f"depends_on[{index}]", f"unknown {role} id {value!r}"))
    if violations:
        raise InvalidArgument(f"invalid graph for spec {spec_id}", violations=violations)


def critical_path(
    cp: Mapping[str, int], deps: Mapping[str, Iterable[str]], keys: Mapping[str, str]
) -> tuple[list[str], int]:
    """Walk back from the largest cp following the module docstring's tie rules."""
    if not cp:
        return [], 0
    end = min(cp, key=lambda task_id: (-cp[task_id], keys[task_id]))
    path = [end]
    current = end
    while True:
        candidates = [dep for dep in deps.get(current, ()) if dep in cp]
        if not candidates:
            break
        current = min(candidates, key=lambda task_id: (-cp[task_id], keys[task_id]))
        path.append(current)
    path.reverse()
    return path, cp[end]


def find_cycle(unresolved: Mapping[str, Iterable[str]]) -> list[str]:
    """Name one cycle among tasks that never got a wave, first id repeated last.

    Every unresolved task has an unresolved dependency (else it would have a wave), so
    following the smallest such dependency from the smallest task must revisit a task;
    the revisited stretch is a cycle, each task depending on the next. Deterministic, so
    both backends name the same cycle.
    """
    current = min(unresolved)
    seen: dict[str, int] = {}
    walk: list[str] = []
    while current not in seen:
        seen[current] = len(walk)
        walk.append(current)
        current = min(dep for dep in unresolved[current] if dep in unresolved)
    cycle = walk[seen[current] :]
    return [*cycle, cycle[0]]


def cycle_error(spec_id: str, keys: list[str]) -> DependencyCycle:
    chain = " -> ".join(keys)
    return DependencyCycle(
        f"dependency cycle in spec {spec_id}: {chain}",
        cycle=keys,
    )
