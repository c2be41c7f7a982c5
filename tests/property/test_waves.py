"""Wave analysis on random DAGs: the definition holds and both backends agree exactly."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devmatrix.stores.graph import EmbeddedGraphStore, GraphTask, Neo4jGraphStore, WaveAnalysis

_spec_numbers = itertools.count()


@dataclass(frozen=True)
class Dag:
    tasks: list[GraphTask]
    # (task id, dependency id) pairs.
    edges: list[tuple[str, str]]


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 60) -> Dag:
    size = draw(st.integers(min_value=1, max_value=max_nodes))
    # Edges only run from a later to an earlier position of a random order, so no cycle can
    # form, while the ids (and so every tie-break) stay unrelated to that order.
    order = draw(st.permutations(range(size)))
    efforts = draw(st.lists(st.integers(min_value=0, max_value=9), min_size=size, max_size=size))
    pairs = draw(
        st.sets(
            st.tuples(st.integers(0, size - 1), st.integers(0, size - 1)).filter(lambda p: p[0] > p[1]),
            max_size=3 * size,
        )
    )
    tasks = [
        GraphTask(id=f"t{n:02d}", spec_id="", key=f"K{n}", name=f"task {n}", type="TASK", effort=efforts[n])
        for n in range(size)
    ]
    edges = sorted((f"t{order[later]:02d}", f"t{order[earlier]:02d}") for later, earlier in pairs)
    return Dag(tasks, edges)


def with_spec(dag: Dag, spec: str) -> tuple[list[GraphTask], list[tuple[str, str]]]:
    tasks = [dataclasses.replace(t, id=f"{spec}/{t.id}", spec_id=spec) for t in dag.tasks]
    edges = [(f"{spec}/{a}", f"{spec}/{b}") for a, b in dag.edges]
    return tasks, edges


def check_definition(analysis: WaveAnalysis, tasks: list[GraphTask], edges: list[tuple[str, str]]) -> None:
    deps: dict[str, list[str]] = {t.id: [] for t in tasks}
    for task_id, dep_id in edges:
        deps[task_id].append(dep_id)
    waves = analysis.waves
    assert set(waves) == set(deps)
    for task_id, task_deps in deps.items():
        # Every dependency runs in an earlier wave...
        assert all(waves[d] < waves[task_id] for d in task_deps)
        # ...and no task could move earlier: wave 0 iff no deps, else a dep sits right before it.
        if task_deps:
            assert max(waves[d] for d in task_deps) == waves[task_id] - 1
        else:
            assert waves[task_id] == 0

    effort = {t.id: t.effort for t in tasks}
    path = analysis.critical_path
    assert path, "a non-empty spec has a critical path"
    assert deps[path[0]] == []
    for earlier, later in itertools.pairwise(path):
        assert earlier in deps[later]
    assert analysis.critical_path_effort == sum(effort[t] for t in path)
    # No chain of dependencies weighs more than the critical path.
    cp: dict[str, int] = {}
    for task_id in sorted(deps, key=waves.__getitem__):
        cp[task_id] = effort[task_id] + max((cp[d] for d in deps[task_id]), default=0)
    assert analysis.critical_path_effort == max(cp.values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dag=dags())
async def test_backends_agree_on_random_dags(
    dag: Dag, embedded_store: EmbeddedGraphStore, neo4j_store: Neo4jGraphStore
) -> None:
    # A fresh spec per example: fixtures are set up once for all examples of the test.
    spec = f"prop-{next(_spec_numbers)}"
    tasks, edges = with_spec(dag, spec)
    analyses = []
    for store in (embedded_store, neo4j_store):
        await store.replace_spec(spec, tasks, edges)
        try:
            analyses.append(await store.analyze(spec))
        finally:
            await store.delete_spec(spec)
    embedded, neo4j = analyses
    check_definition(embedded, tasks, edges)
    assert neo4j.waves == embedded.waves
    assert neo4j.critical_path == embedded.critical_path
    assert neo4j.critical_path_effort == embedded.critical_path_effort
