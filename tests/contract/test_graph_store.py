"""One contract for the dependency-graph store, run against the embedded and the Neo4j backend."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from devmatrix.runtime.errors import AlreadyExists, DependencyCycle, InvalidArgument, NotFound
from devmatrix.stores.graph import EmbeddedGraphStore, GraphTask, Neo4jGraphStore

Store = EmbeddedGraphStore | Neo4jGraphStore


@pytest.fixture(params=["embedded", "neo4j"])
def graph_store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(f"{request.param}_store")


def task(spec: str, key: str, effort: int = 1, **fields: Any) -> GraphTask:
    return GraphTask(
        id=f"{spec}/{key}", spec_id=spec, key=key, name=f"task {key}", type="TASK", effort=effort, **fields
    )


def ids(spec: str, *keys: str) -> list[str]:
    return [f"{spec}/{k}" for k in keys]


def edges(spec: str, *pairs: str) -> list[tuple[str, str]]:
    """'a>b' means a depends on b."""
    return [(f"{spec}/{p.split('>')[0]}", f"{spec}/{p.split('>')[1]}") for p in pairs]


async def load(store: Store, spec: str, keys: Sequence[str], *pairs: str, **efforts: int) -> None:
    await store.replace_spec(spec, [task(spec, k, efforts.get(k, 1)) for k in keys], edges(spec, *pairs))


async def cypher(store: Store, query: str, **params: Any) -> list[dict[str, Any]]:
    assert isinstance(store, Neo4jGraphStore)
    result = await store.driver.execute_query(query, params)
    return [record.data() for record in result.records]


async def test_replace_spec_stores_tasks_hierarchy_skills_and_dependencies(graph_store: Store) -> None:
    group = GraphTask(id="s/g", spec_id="s", key="g", name="group", type="TASK_GROUP", phase=3)
    tasks = [
        group,
        task("s", "a", 3, parent_id="s/g", skills=("python", "testing"), phase=3, kind="API"),
        task("s", "b", 2, parent_id="s/g", skills=("python",), status="READY"),
        task("s", "c"),
    ]
    await graph_store.replace_spec("s", tasks, edges("s", "b>a", "c>a", "c>b"))

    stored = await graph_store.get_task("s/a")
    assert stored == tasks[1]
    assert (await graph_store.get_task("s/b")).status == "READY"
    assert await graph_store.children("s/g") == ids("s", "a", "b")
    assert await graph_store.dependencies("s/c") == ids("s", "a", "b")
    assert await graph_store.dependencies("s/a") == []
    assert await graph_store.dependents("s/a") == ids("s", "b", "c")
    assert await graph_store.dependents("s/c") == []

    if isinstance(graph_store, Neo4jGraphStore):
        rows = await cypher(
            graph_store,
            "MATCH (t:Task)-[:REQUIRES_SKILL]->(s:Skill) RETURN t.key AS task, s.name AS skill ORDER BY task, skill",
        )
        assert rows == [
            {"task": "a", "skill": "python"},
            {"task": "a", "skill": "testing"},
            {"task": "b", "skill": "python"},
        ]
        # Skills are shared nodes, merged by name.
        assert await cypher(graph_store, "MATCH (s:Skill) RETURN count(s) AS n") == [{"n": 2}]
        parents = await cypher(
            graph_store, "MATCH (p:Task)-[:PARENT_OF]->(c:Task) RETURN p.id AS p, c.id AS c ORDER BY c"
        )
        assert parents == [{"p": "s/g", "c": "s/a"}, {"p": "s/g", "c": "s/b"}]
        node = (await cypher(graph_store, "MATCH (t:Task {id: 's/a'}) RETURN t {.*} AS t"))[0]["t"]
        assert {k: node[k] for k in ("spec_id", "key", "type", "status", "effort", "phase", "kind")} == {
            "spec_id": "s",
            "key": "a",
            "type": "TASK",
            "status": "PENDING",
            "effort": 3,
            "phase": 3,
            "kind": "API",
        }


async def test_replace_spec_replaces_the_previous_graph(graph_store: Store) -> None:
    await load(graph_store, "s", "abc", "b>a", "c>b")
    await graph_store.analyze("s")
    assert await graph_store.wave_members("s", 2) == ids("s", "c")

    await load(graph_store, "s", "abd", "d>a")
    with pytest.raises(NotFound):
        await graph_store.dependencies("s/c")
    assert await graph_store.dependencies("s/b") == []
    assert await graph_store.dependents("s/a") == ids("s", "d")
    # Waves of the old graph are gone until the new one is analyzed.
    assert await graph_store.wave_members("s", 0) == []
    analysis = await graph_store.analyze("s")
    assert analysis.by_wave() == [ids("s", "a", "b"), ids("s", "d")]
    assert await graph_store.wave_members("s", 2) == []


async def test_replace_spec_rejects_dangling_ids_and_foreign_tasks(graph_store: Store) -> None:
    with pytest.raises(InvalidArgument):
        await graph_store.replace_spec("s", [task("s", "a")], edges("s", "a>missing"))
    with pytest.raises(InvalidArgument):
        await graph_store.replace_spec("s", [task("s", "a", parent_id="nope")], [])
    with pytest.raises(InvalidArgument):
        await graph_store.replace_spec("s", [task("s", "a"), task("s", "a")], [])
    await load(graph_store, "s", "a")
    with pytest.raises(AlreadyExists):
        await graph_store.replace_spec(
            "t", [GraphTask(id="s/a", spec_id="t", key="a", name="a", type="TASK")], []
        )
    assert await graph_store.dependencies("s/a") == []


async def test_diamond_waves(graph_store: Store) -> None:
    await load(graph_store, "s", "abcd", "b>a", "c>a", "d>b", "d>c")
    analysis = await graph_store.analyze("s")
    assert analysis.waves == dict(zip(ids("s", "a", "b", "c", "d"), [0, 1, 1, 2], strict=True))
    assert analysis.by_wave() == [ids("s", "a"), ids("s", "b", "c"), ids("s", "d")]


async def test_chain_waves_follow_the_longest_path(graph_store: Store) -> None:
    # e depends on a directly and through the chain: the chain decides its wave.
    await load(graph_store, "s", "abcde", "b>a", "c>b", "d>c", "e>d", "e>a")
    analysis = await graph_store.analyze("s")
    assert [analysis.waves[i] for i in ids("s", *"abcde")] == [0, 1, 2, 3, 4]
    assert analysis.critical_path == ids("s", *"abcde")
    assert analysis.critical_path_effort == 5


async def test_independent_tasks_share_wave_zero(graph_store: Store) -> None:
    await load(graph_store, "s", "cab", a=1, b=5, c=5)
    analysis = await graph_store.analyze("s")
    assert analysis.by_wave() == [ids("s", "a", "b", "c")]
    # Tie on cp 5 between b and c: the smallest id ends the path.
    assert analysis.critical_path == ids("s", "b")
    assert analysis.critical_path_effort == 5


async def test_critical_path_weights_effort_not_length(graph_store: Store) -> None:
    # Long light branch a>b>c (1+1+1) versus short heavy branch x (8); both feed z.
    await load(graph_store, "s", "abcxz", "b>a", "c>b", "z>c", "z>x", x=8, z=2)
    analysis = await graph_store.analyze("s")
    assert analysis.critical_path == ids("s", "x", "z")
    assert analysis.critical_path_effort == 10
    assert analysis.waves["s/z"] == 3


async def test_critical_path_ties_follow_keys_not_ids(graph_store: Store) -> None:
    # Same shape as below, but ids sort the other way round from keys: keys decide.
    tasks = [task("s", k) for k in "abcd"]
    tasks = [dataclasses.replace(t, id=f"s/{9 - i}") for i, t in enumerate(tasks)]
    key_to_id = {t.key: t.id for t in tasks}
    await graph_store.replace_spec(
        "s",
        [dataclasses.replace(t, effort=2 if t.key in "bc" else 1) for t in tasks],
        [(key_to_id[a], key_to_id[b]) for a, b in (("b", "a"), ("c", "a"), ("d", "b"), ("d", "c"))],
    )
    analysis = await graph_store.analyze("s")
    assert analysis.critical_path == [key_to_id["a"], key_to_id["b"], key_to_id["d"]]


async def test_critical_path_ties_take_the_smallest_key(graph_store: Store) -> None:
    # d has two deps with equal cp (b, c): the walk goes through b. e ties with d on cp: d ends.
    await load(graph_store, "s", "abcde", "b>a", "c>a", "d>b", "d>c", b=2, c=2, d=1, e=4)
    analysis = await graph_store.analyze("s")
    assert analysis.critical_path == ids("s", "a", "b", "d")
    assert analysis.critical_path_effort == 4


async def test_only_executable_tasks_get_waves(graph_store: Store) -> None:
    phase = GraphTask(id="s/p", spec_id="s", key="p", name="phase", type="PHASE", phase=1)
    await graph_store.replace_spec(
        "s", [phase, task("s", "a", parent_id="s/p"), task("s", "b")], edges("s", "b>a")
    )
    analysis = await graph_store.analyze("s")
    assert analysis.waves == {"s/a": 0, "s/b": 1}


def assert_names_cycle(cycle: list[str], pairs: list[str]) -> None:
    """The reported keys close a loop and each one depends on the next."""
    declared = {tuple(p.split(">")) for p in pairs}
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1
    for task_key, dep_key in itertools.pairwise(cycle):
        assert (task_key, dep_key) in declared, f"{task_key} does not depend on {dep_key}"


async def test_three_cycle_is_named(graph_store: Store) -> None:
    # x hangs off the cycle and a precedes it: neither may be reported as part of it.
    pairs = ["b>a", "c>b", "d>c", "b>d", "x>c"]
    await load(graph_store, "s", "abcdx", *pairs)
    with pytest.raises(DependencyCycle) as caught:
        await graph_store.analyze("s")
    assert_names_cycle(caught.value.cycle, pairs)
    assert set(caught.value.cycle) == {"b", "c", "d"}
    assert " -> ".join(caught.value.cycle) in caught.value.message
    assert await graph_store.wave_members("s", 0) == []


async def test_self_loop_is_a_cycle(graph_store: Store) -> None:
    await load(graph_store, "s", "ab", "b>a", "b>b")
    with pytest.raises(DependencyCycle) as caught:
        await graph_store.analyze("s")
    assert caught.value.cycle == ["b", "b"]


async def test_a_cycle_keeps_the_previous_waves_out(graph_store: Store) -> None:
    await load(graph_store, "s", "ab", "b>a")
    await graph_store.analyze("s")
    await load(graph_store, "s", "ab", "b>a", "a>b")
    with pytest.raises(DependencyCycle) as caught:
        await graph_store.analyze("s")
    assert caught.value.cycle in (["a", "b", "a"], ["b", "a", "b"])
    assert await graph_store.wave_members("s", 0) == []


async def test_specs_are_isolated(graph_store: Store) -> None:
    await load(graph_store, "s1", "ab", "b>a")
    await load(graph_store, "s2", "abc", "c>b", "b>a")
    first = await graph_store.analyze("s1")
    second = await graph_store.analyze("s2")
    assert first.waves == {"s1/a": 0, "s1/b": 1}
    assert set(second.waves) == set(ids("s2", "a", "b", "c"))
    assert await graph_store.wave_members("s1", 2) == []
    assert await graph_store.wave_members("s2", 2) == ids("s2", "c")
    # Replacing one spec leaves the other alone.
    await load(graph_store, "s1", "z")
    assert await graph_store.dependencies("s2/c") == ids("s2", "b")
    assert await graph_store.wave_members("s2", 0) == ids("s2", "a")


async def test_delete_spec(graph_store: Store) -> None:
    await load(graph_store, "s1", "ab", "b>a")
    await load(graph_store, "s2", "a")
    await graph_store.analyze("s1")
    await graph_store.delete_spec("s1")
    await graph_store.delete_spec("never-stored")
    for task_id in ids("s1", "a", "b"):
        with pytest.raises(NotFound):
            await graph_store.dependencies(task_id)
    assert await graph_store.wave_members("s1", 0) == []
    assert (await graph_store.analyze("s1")).waves == {}
    assert await graph_store.dependencies("s2/a") == []
    if isinstance(graph_store, Neo4jGraphStore):
        assert await cypher(graph_store, "MATCH (n {spec_id: 's1'}) RETURN count(n) AS n") == [{"n": 0}]


async def test_set_statuses_all_or_none(graph_store: Store) -> None:
    await load(graph_store, "s", "ab")
    await graph_store.set_statuses([("s/a", "RUNNING"), ("s/b", "COMPLETED")])
    assert (await graph_store.get_task("s/a")).status == "RUNNING"
    assert (await graph_store.get_task("s/b")).status == "COMPLETED"
    with pytest.raises(NotFound):
        await graph_store.set_statuses([("s/a", "FAILED"), ("s/zzz", "RUNNING")])
    assert (await graph_store.get_task("s/a")).status == "RUNNING"  # the batch was refused whole
    await graph_store.set_statuses([])
    if isinstance(graph_store, Neo4jGraphStore):
        assert await cypher(
            graph_store, "MATCH (t:Task {spec_id: 's'}) RETURN t.key AS k, t.status AS s ORDER BY k"
        ) == [
            {"k": "a", "s": "RUNNING"},
            {"k": "b", "s": "COMPLETED"},
        ]


async def test_assign_keeps_one_agent_per_task(graph_store: Store) -> None:
    await load(graph_store, "s", "ab")
    assert await graph_store.assigned_agent("s/a") is None
    await graph_store.assign("s/a", "agent-1", "backend")
    await graph_store.assign("s/b", "agent-1")
    assert await graph_store.assigned_agent("s/a") == ("agent-1", "backend")
    # An assignment without specialization does not erase the agent's known one.
    assert await graph_store.assigned_agent("s/b") == ("agent-1", "backend")
    await graph_store.assign("s/a", "agent-2", "frontend")
    assert await graph_store.assigned_agent("s/a") == ("agent-2", "frontend")
    with pytest.raises(NotFound):
        await graph_store.assign("s/zzz", "agent-1")
    if isinstance(graph_store, Neo4jGraphStore):
        rows = await cypher(
            graph_store,
            "MATCH (t:Task)-[:ASSIGNED_TO]->(a:Agent) RETURN t.id AS t, a.name AS a ORDER BY t",
        )
        assert rows == [{"t": "s/a", "a": "agent-2"}, {"t": "s/b", "a": "agent-1"}]
        assert await cypher(graph_store, "MATCH (a:Agent) RETURN count(a) AS n") == [{"n": 2}]


async def test_wave_members_after_analyze(graph_store: Store) -> None:
    await load(graph_store, "s", "abcd", "b>a", "c>a", "d>b", "d>c")
    assert await graph_store.wave_members("s", 0) == []
    for _ in range(2):  # re-analysis replaces the waves instead of adding to them
        await graph_store.analyze("s")
    assert await graph_store.wave_members("s", 0) == ids("s", "a")
    assert await graph_store.wave_members("s", 1) == ids("s", "b", "c")
    assert await graph_store.wave_members("s", 2) == ids("s", "d")
    assert await graph_store.wave_members("s", 3) == []
    assert await graph_store.wave_members("other", 0) == []
    if isinstance(graph_store, Neo4jGraphStore):
        rows = await cypher(
            graph_store,
            """
            MATCH (w:Wave {spec_id: 's'})
            OPTIONAL MATCH (t:Task)-[:IN_WAVE]->(w)
            RETURN w.id AS id, w.number AS number, w.status AS status, count(t) AS members
            ORDER BY number
            """,
        )
        assert rows == [
            {"id": "s:0", "number": 0, "status": "PENDING", "members": 1},
            {"id": "s:1", "number": 1, "status": "PENDING", "members": 2},
            {"id": "s:2", "number": 2, "status": "PENDING", "members": 1},
        ]


async def test_unknown_task_is_not_found(graph_store: Store) -> None:
    for call in (graph_store.dependencies, graph_store.dependents, graph_store.get_task):
        with pytest.raises(NotFound):
            await call("nope")


async def test_ping_and_persistence_flag(graph_store: Store) -> None:
    assert await graph_store.ping() is True
    assert graph_store.persistent is isinstance(graph_store, Neo4jGraphStore)
