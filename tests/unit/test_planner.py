"""Planner: hierarchy shape, dependency sanity, expansion rules and plan validation."""

from __future__ import annotations

import copy
from pathlib import Path

import networkx as nx
import pytest

from devmatrix.runtime.errors import DependencyCycle, InvalidArgument
from devmatrix.standards import SKILL_NAMES
from services.orchestrator.domain import (
    PHASE_NAMES,
    ParsedSpec,
    Plan,
    PlannedTask,
    TaskKind,
    TaskType,
)
from services.orchestrator.plan_checks import MAX_TASKS
from services.orchestrator.planner import build_plan, expand_dependencies, validate_plan
from services.orchestrator.spec_parser import parse_markdown

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


@pytest.fixture(scope="module")
def task_api_plan() -> Plan:
    return build_plan(parse_markdown((EXAMPLES / "task_api.md").read_text()))


@pytest.fixture(scope="module")
def blog_plan() -> Plan:
    return build_plan(parse_markdown((EXAMPLES / "blog_ui.md").read_text()))


def _graph(plan: Plan) -> nx.DiGraph:
    """Edges point from a dependency to its dependent, so ancestors = prerequisites."""
    graph = nx.DiGraph()
    graph.add_nodes_from(t.key for t in plan.tasks if t.type == TaskType.TASK)
    graph.add_edges_from((dep, task) for task, dep in validate_plan(plan))
    return graph


def _waves(graph: nx.DiGraph) -> dict[str, int]:
    wave: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        wave[node] = 1 + max((wave[p] for p in graph.predecessors(node)), default=-1)
    return wave


def _tasks(plan: Plan, **match: object) -> list[PlannedTask]:
    return [
        t for t in plan.tasks if t.type == TaskType.TASK and all(getattr(t, k) == v for k, v in match.items())
    ]


def test_hierarchy_shape(task_api_plan: Plan) -> None:
    by_key = {t.key: t for t in task_api_plan.tasks}
    assert len(by_key) == len(task_api_plan.tasks)
    phases = [t for t in task_api_plan.tasks if t.type == TaskType.PHASE]
    assert [(p.phase, p.name, p.parent) for p in phases] == [
        (n, name, None) for n, name in PHASE_NAMES.items()
    ]
    for task in task_api_plan.tasks:
        parent = by_key.get(task.parent) if task.parent else None
        if task.type == TaskType.TASK_GROUP:
            assert parent is not None and parent.type == TaskType.PHASE
        elif task.type == TaskType.TASK:
            assert parent is not None and parent.type == TaskType.TASK_GROUP
            assert 1 <= task.effort <= 8
            assert task.acceptance_criteria and task.expected_output and task.skills
            assert [s for s in by_key.values() if s.parent == task.key], f"{task.key} has no subtasks"
        elif task.type == TaskType.SUBTASK:
            assert parent is not None and parent.type == TaskType.TASK
            assert task.effort == 0
        if task.type != TaskType.PHASE:
            assert task.phase == by_key[task.parent].phase  # type: ignore[index]
    group_names = {t.name for t in task_api_plan.tasks if t.type == TaskType.TASK_GROUP}
    assert {
        "Project setup",
        "Data models",
        "Task API",
        "Test suite",
        "Deployment",
        "Documentation",
    } <= group_names


def test_phase_and_group_effort_is_sum_of_tasks(task_api_plan: Plan) -> None:
    by_key = {t.key: t for t in task_api_plan.tasks}

    def root_of(task: PlannedTask, level: TaskType) -> str | None:
        while task.parent:
            task = by_key[task.parent]
            if task.type == level:
                return task.key
        return None

    for level in (TaskType.PHASE, TaskType.TASK_GROUP):
        for node in (t for t in task_api_plan.tasks if t.type == level):
            expected = sum(t.effort for t in _tasks(task_api_plan) if root_of(t, level) == node.key)
            assert node.effort == expected


def test_task_api_expected_tasks_and_waves(task_api_plan: Plan) -> None:
    for entity in ("project", "task", "comment", "tag"):
        assert _tasks(task_api_plan, key=f"P3.models.{entity}")[0].kind == TaskKind.MODEL
        assert _tasks(task_api_plan, key=f"P3.models.{entity}-migration")[0].kind == TaskKind.MIGRATION
        assert _tasks(task_api_plan, key=f"P3.models.{entity}-repository")[0].kind == TaskKind.CRUD
    model = _tasks(task_api_plan, key="P3.models.task")[0]
    assert "`title`: str, required, max 200 chars" in model.acceptance_criteria
    assert model.expected_output == "app/models/task.py"
    schemas = _tasks(task_api_plan, key="P3.api-task.schemas")[0]
    assert "`title` longer than 200 characters is rejected with 422" in schemas.acceptance_criteria
    writes = _tasks(task_api_plan, key="P3.api-task.endpoints-2")[0]
    assert "DELETE /api/v1/tasks/{id} returns 204; 404 for an unknown id" in writes.acceptance_criteria
    waves = _waves(_graph(task_api_plan))
    task_count = len(_tasks(task_api_plan))
    assert 40 <= task_count <= 90
    assert 5 <= max(waves.values()) + 1 <= 10
    widths = [list(waves.values()).count(w) for w in set(waves.values())]
    assert max(widths) >= 8  # real parallelism, not a chain


def test_dependencies_make_engineering_sense(task_api_plan: Plan) -> None:
    graph = _graph(task_api_plan)
    assert nx.is_directed_acyclic_graph(graph)
    order = {key: i for i, key in enumerate(nx.lexicographical_topological_sort(graph))}
    spec = task_api_plan.spec
    for entity in spec.entities:
        model = f"P3.models.{entity.name.lower()}"
        assert "P3.setup.database" in nx.ancestors(graph, model)
        endpoint_tasks = [
            t.key for t in _tasks(task_api_plan) if t.key.startswith(f"P3.api-{entity.name.lower()}.")
        ]
        assert endpoint_tasks
        for key in endpoint_tasks:
            assert model in nx.ancestors(graph, key), f"{key} does not wait for {model}"
            assert order[model] < order[key]
        api_tests = f"P4.tests.api-{entity.name.lower()}"
        assert set(endpoint_tasks) <= nx.ancestors(graph, api_tests)
    # A migration waits for the models its foreign keys point at.
    assert "P3.models.project" in nx.ancestors(graph, "P3.models.task-migration")
    everything_else = {t.key for t in _tasks(task_api_plan) if t.phase < 5}
    for task in _tasks(task_api_plan, phase=5):
        assert everything_else <= nx.ancestors(graph, task.key), f"{task.key} is not last"
    for task in _tasks(task_api_plan, phase=4):
        assert "P3.setup.scaffold" in nx.ancestors(graph, task.key)
    integration = nx.ancestors(graph, "P4.tests.integration")
    assert {t.key for t in _tasks(task_api_plan, phase=3)} <= integration


def test_skills_only_from_catalog_and_fit_the_kind(task_api_plan: Plan, blog_plan: Plan) -> None:
    for plan in (task_api_plan, blog_plan):
        for task in plan.tasks:
            assert set(task.skills) <= set(SKILL_NAMES)
        for task in _tasks(plan, kind=TaskKind.API):
            assert "backend-api" in task.skills
        for task in _tasks(plan, kind=TaskKind.MODEL):
            assert "backend-models" in task.skills
        for task in _tasks(plan, kind=TaskKind.TEST):
            assert any(s.startswith("testing-") for s in task.skills)
    assert not any(s.startswith("frontend-") for t in task_api_plan.tasks for s in t.skills)


def test_ui_spec_gets_frontend_tasks(blog_plan: Plan) -> None:
    ui_tasks = _tasks(blog_plan, kind=TaskKind.UI)
    assert {t.name for t in ui_tasks} >= {"Home page", "Post detail page", "Editor page"}
    for task in ui_tasks:
        assert {"frontend-components", "frontend-accessibility"} <= set(task.skills)
    graph = _graph(blog_plan)
    detail = next(t.key for t in ui_tasks if t.name == "Post detail page")
    assert "P3.api-reply.endpoints-1" in nx.ancestors(graph, detail)
    assert detail in nx.ancestors(graph, "P4.tests.ui")
    # Small spec: one task per endpoint.
    assert [t.name for t in _tasks(blog_plan) if t.key.startswith("P3.api-post.endpoints")] == [
        "GET /posts",
        "POST /posts",
        "GET /posts/{id}",
    ]
    assert _tasks(blog_plan, key="P3.models.post")[0].expected_output == "app/models/post.py"


def test_spec_without_entities_plans_features() -> None:
    spec = ParsedSpec(title="CLI", functional_requirements=["Print a greeting", "Read a config file"])
    plan = build_plan(spec)
    edges = validate_plan(plan)
    names = [t.name for t in _tasks(plan)]
    assert "Implement FR-1" in names and "Implement FR-2" in names
    assert ("P4.tests.features", "P3.features.fr-2") in edges


def test_build_plan_is_deterministic() -> None:
    text = (EXAMPLES / "task_api.md").read_text()
    first, second = build_plan(parse_markdown(text)), build_plan(parse_markdown(text))
    assert first == second
    assert expand_dependencies(first) == expand_dependencies(second)


def _plan(*tasks: PlannedTask) -> Plan:
    return Plan(spec=ParsedSpec(title="t"), requirements=[], tasks=list(tasks))


def _node(key: str, type_: TaskType, parent: str | None = None, *deps: str) -> PlannedTask:
    return PlannedTask(key=key, type=type_, name=key, parent=parent, depends_on=list(deps))


def test_group_level_dependencies_expand_to_all_tasks() -> None:
    plan = _plan(
        _node("P", TaskType.PHASE),
        _node("A", TaskType.TASK_GROUP, "P"),
        _node("a1", TaskType.TASK, "A"),
        _node("a2", TaskType.TASK, "A"),
        _node("B", TaskType.TASK_GROUP, "P", "A"),
        _node("b1", TaskType.TASK, "B"),
        _node("b1.s1", TaskType.SUBTASK, "b1", "a2", "b1.s2"),
        _node("b1.s2", TaskType.SUBTASK, "b1"),
        _node("b2", TaskType.TASK, "B", "B", "P"),  # containment: ignored
        _node("Q", TaskType.PHASE, None, "P"),
        _node("q1", TaskType.TASK, "Q"),
    )
    edges = validate_plan(plan)
    assert edges == [
        ("b1", "a1"),
        ("b1", "a2"),
        ("b2", "a1"),
        ("b2", "a2"),
        ("q1", "a1"),
        ("q1", "a2"),
        ("q1", "b1"),
        ("q1", "b2"),
    ]


def test_expansion_ignores_task_in_group_depending_on_own_group() -> None:
    plan = _plan(
        _node("G", TaskType.TASK_GROUP),
        _node("t1", TaskType.TASK, "G", "G"),
        _node("t2", TaskType.TASK, "G"),
    )
    assert expand_dependencies(plan) == []


def test_validate_reports_every_problem_with_its_field() -> None:
    plan = _plan(
        _node("P", TaskType.PHASE),
        _node("G", TaskType.TASK_GROUP, "P"),
        _node("t", TaskType.TASK, "G", "missing", "t"),
        _node("t", TaskType.TASK, "G"),
        _node("s", TaskType.SUBTASK, "G"),
        _node("g2", TaskType.TASK_GROUP, "t"),
        _node("x", TaskType.TASK, "nowhere"),
        _node("root-task", TaskType.TASK),
        PlannedTask(key="", type=TaskType.TASK, name=" ", parent="G"),
        PlannedTask(
            key="e", type=TaskType.TASK, name="e", parent="G", effort=1001, skills=["ok", "backend-api"]
        ),
        PlannedTask(key="n", type=TaskType.TASK, name="n", parent="G", effort=-1, priority=7),
    )
    with pytest.raises(InvalidArgument) as caught:
        validate_plan(plan)
    fields = [v.field for v in caught.value.violations]
    assert fields == [
        "tasks[3].key",  # duplicate
        "tasks[8].key",  # missing
        "tasks[2].depends_on[0]",  # dangling
        "tasks[2].depends_on[1]",  # itself
        "tasks[4].parent",  # SUBTASK under a group
        "tasks[5].parent",  # group under a TASK
        "tasks[6].parent",  # unknown parent
        "tasks[7].parent",  # TASK at the root
        "tasks[8].name",
        "tasks[9].skills[0]",
        "tasks[9].effort",
        "tasks[10].effort",
        "tasks[10].priority",
    ]
    described = {v.field: v.description for v in caught.value.violations}
    assert "duplicate key 't'" in described["tasks[3].key"]
    assert "'missing'" in described["tasks[2].depends_on[0]"]
    assert "unknown skill 'ok'" in described["tasks[9].skills[0]"]
    assert "13 problems" in caught.value.message


def test_too_many_tasks() -> None:
    tasks = [_node("G", TaskType.TASK_GROUP)] + [_node(f"t{i}", TaskType.TASK, "G") for i in range(MAX_TASKS)]
    with pytest.raises(InvalidArgument) as caught:
        validate_plan(_plan(*tasks))
    assert [v.field for v in caught.value.violations] == ["tasks"]


def test_cycle_is_named_in_dependency_order() -> None:
    plan = _plan(
        _node("G", TaskType.TASK_GROUP),
        _node("a", TaskType.TASK, "G", "b"),
        _node("b", TaskType.TASK, "G", "c"),
        _node("c", TaskType.TASK, "G", "a"),
        _node("d", TaskType.TASK, "G", "a"),
    )
    with pytest.raises(DependencyCycle) as caught:
        validate_plan(plan)
    assert caught.value.cycle == ["a", "b", "c", "a"]
    assert str(caught.value) == "dependency cycle: a -> b -> c -> a"


def test_cycle_through_group_dependencies() -> None:
    plan = _plan(
        _node("A", TaskType.TASK_GROUP, None, "B"),
        _node("a1", TaskType.TASK, "A"),
        _node("B", TaskType.TASK_GROUP),
        _node("b1", TaskType.TASK, "B", "a1"),
    )
    with pytest.raises(DependencyCycle) as caught:
        validate_plan(plan)
    assert caught.value.cycle == ["a1", "b1", "a1"]


def test_planner_output_survives_mutation_checks(task_api_plan: Plan) -> None:
    broken = copy.deepcopy(task_api_plan)
    endpoint = next(t for t in broken.tasks if t.key == "P3.api-task.endpoints-1")
    model = next(t for t in broken.tasks if t.key == "P3.models.task")
    model.depends_on.append(endpoint.key)
    with pytest.raises(DependencyCycle) as caught:
        validate_plan(broken)
    assert caught.value.cycle[0] == caught.value.cycle[-1]
    assert "P3.models.task" in caught.value.cycle and "P3.api-task.endpoints-1" in caught.value.cycle
