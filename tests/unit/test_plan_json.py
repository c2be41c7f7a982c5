"""JSON task plans: decoding, type errors by JSON path, defaults, and a property test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devmatrix.runtime.errors import DependencyCycle, InvalidArgument
from devmatrix.standards import SKILL_NAMES
from services.orchestrator.domain import TaskKind, TaskType
from services.orchestrator.plan_json import parse_plan_json
from services.orchestrator.planner import expand_dependencies, validate_plan

PLANS = Path(__file__).resolve().parents[2] / "examples" / "plans"


def _doc(*tasks: dict[str, Any], spec: dict[str, Any] | None = None) -> str:
    return json.dumps({"spec": spec or {"title": "t"}, "tasks": list(tasks)})


def _violations(text: str) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        parse_plan_json(text)
    return {v.field: v.description for v in caught.value.violations}


def test_small_plan_example() -> None:
    plan = parse_plan_json((PLANS / "small_plan.json").read_text())
    by_key = {t.key: t for t in plan.tasks}
    assert len(plan.tasks) == 16
    assert by_key["models.note"].kind == TaskKind.MODEL  # "model": enum values are case-insensitive
    assert by_key["models.note.s1"].phase == 3  # inherited through TASK and group from the phase
    assert by_key["models.note.s1"].effort == 0
    assert by_key["api"].effort == 4  # group effort = sum of its tasks
    assert by_key["setup.scaffold"].expected_output == "app/main.py\npyproject.toml"
    assert [r.key for r in plan.requirements] == [
        "ENT-1",
        "API-1",
        "API-2",
        "FR-1",
        "CON-1",
        "TECH-1",
        "TECH-2",
        "TECH-3",
    ]
    edges = validate_plan(plan)
    # The models group depends on the setup group: each model task waits for each setup task.
    assert ("models.note", "setup.scaffold") in edges and ("models.note", "setup.db") in edges
    assert ("tests.api", "api.create") in edges
    assert ("setup.db", "analysis.scope") in edges  # phase P3 depends on phase P1
    assert all(t != "models.note.s1" and d != "models.note.s1" for t, d in edges)


def test_cyclic_plan_example() -> None:
    plan = parse_plan_json((PLANS / "cyclic_plan.json").read_text())
    with pytest.raises(DependencyCycle) as caught:
        validate_plan(plan)
    assert caught.value.cycle == ["core.a", "core.c", "core.b", "core.a"]
    assert "core.a -> core.c -> core.b -> core.a" in caught.value.message


@pytest.mark.parametrize("text", ["{", "[1, 2", "not json", "{'single': 'quotes'}"])
def test_malformed_json(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_plan_json(text)
    assert caught.value.message.startswith("malformed JSON")
    assert [v.field for v in caught.value.violations] == ["plan_json"]


def test_root_and_required_parts() -> None:
    assert _violations("[]") == {"plan_json": "must be an object, got array"}
    one_task = [{"key": "P", "type": "PHASE", "name": "p"}]
    assert set(_violations(json.dumps({"tasks": one_task}))) == {"spec"}
    assert _violations(_doc()) == {"tasks": "at least one task is required"}
    assert set(_violations(json.dumps({"spec": {"title": "t"}}))) == {"tasks"}
    assert set(_violations(json.dumps({"spec": {"title": ""}, "tasks": one_task, "extra": 1}))) == {
        "spec.title",
        "extra",
    }
    with pytest.raises(InvalidArgument):
        parse_plan_json("   ")


def test_wrong_types_are_named_by_json_path() -> None:
    text = _doc(
        {"key": "P", "type": "phase", "name": "Implementation"},
        {"key": "t", "type": "TASK", "parent": "P", "name": "x", "effort": "abc", "depends_on": "P"},
        {"key": "u", "type": "STEP", "parent": 3, "name": "y", "skills": ["backend-api", 7], "priority": 9},
        {"type": "TASK", "kind": "nope", "dependencies": []},
        "not an object",
        spec={"title": "t", "tech_stack": ["python"], "constraints": [1], "entities": [{"fields": "x"}]},
    )
    violations = _violations(text)
    assert set(violations) == {
        "spec.tech_stack",
        "spec.constraints[0]",
        "spec.entities[0].name",
        "spec.entities[0].fields",
        "tasks[1].effort",
        "tasks[1].depends_on",
        "tasks[2].type",
        "tasks[2].parent",
        "tasks[2].skills[1]",
        "tasks[2].priority",
        "tasks[3].key",
        "tasks[3].name",
        "tasks[3].kind",
        "tasks[3].dependencies",
        "tasks[4]",
    }
    assert violations["tasks[1].effort"] == 'must be an integer, got string "abc"'
    assert violations["tasks[1].depends_on"] == "must be a list of strings, got string"
    assert "'STEP' is not one of PHASE, TASK_GROUP, TASK, SUBTASK" in violations["tasks[2].type"]
    assert violations["tasks[3].key"] == "required"


def test_defaults_and_phase_inheritance() -> None:
    plan = parse_plan_json(
        _doc(
            {"key": "P", "type": "Phase", "name": "Testing & Validation"},
            {"key": "G", "type": "task_group", "parent": "P", "name": "g"},
            {"key": "T", "type": "task", "parent": "G", "name": "t", "skills": ["testing-coverage"]},
            {"key": "S", "type": "subtask", "parent": "T", "name": "s"},
        )
    )
    by_key = {t.key: t for t in plan.tasks}
    assert [by_key[k].phase for k in "PGTS"] == [4, 4, 4, 4]
    assert [by_key[k].effort for k in "PGTS"] == [1, 1, 1, 0]
    assert by_key["T"].kind == TaskKind.GENERIC and by_key["T"].priority == 2
    assert by_key["S"].type == TaskType.SUBTASK
    assert validate_plan(plan) == []


def test_structural_problems_are_left_to_validate_plan() -> None:
    plan = parse_plan_json(
        _doc(
            {"key": "G", "type": "TASK_GROUP", "name": "g"},
            {
                "key": "t",
                "type": "TASK",
                "parent": "G",
                "name": "t",
                "depends_on": ["ghost"],
                "skills": ["magic"],
            },
        )
    )
    with pytest.raises(InvalidArgument) as caught:
        validate_plan(plan)
    assert [v.field for v in caught.value.violations] == ["tasks[1].depends_on[0]", "tasks[1].skills[0]"]


@st.composite
def plans(draw: st.DrawFn, acyclic: bool) -> dict[str, Any]:
    """A random well-formed hierarchy; with acyclic, deps only point at earlier-built work."""
    tasks: list[dict[str, Any]] = []
    for p in range(1, draw(st.integers(1, 3)) + 1):
        tasks.append({"key": f"P{p}", "type": "PHASE", "name": f"phase {p}", "phase": p})
        for g in range(draw(st.integers(0, 3))):
            gkey = f"P{p}.g{g}"
            tasks.append({"key": gkey, "type": "TASK_GROUP", "parent": f"P{p}", "name": gkey})
            for t in range(draw(st.integers(0, 3))):
                tkey = f"{gkey}.t{t}"
                tasks.append(
                    {
                        "key": tkey,
                        "type": "TASK",
                        "parent": gkey,
                        "name": tkey,
                        "effort": draw(st.integers(0, 8)),
                        "skills": draw(st.lists(st.sampled_from(SKILL_NAMES), max_size=2, unique=True)),
                    }
                )
                for s in range(draw(st.integers(0, 2))):
                    tasks.append({"key": f"{tkey}.s{s}", "type": "SUBTASK", "parent": tkey, "name": "s"})
        if draw(st.booleans()):
            tasks.append({"key": f"P{p}.direct", "type": "TASK", "parent": f"P{p}", "name": "direct"})
    keys = [t["key"] for t in tasks]
    for i, task in enumerate(tasks):
        if acyclic:
            # Candidates must be fully built before this node starts and not contain it,
            # so every expanded edge points backwards in build order.
            candidates = [
                k for k in keys[:i] if not task["key"].startswith(k + ".") and _closed_before(k, keys, i)
            ]
        else:
            candidates = [k for k in keys if k != task["key"]]
        if candidates:
            task["depends_on"] = draw(st.lists(st.sampled_from(candidates), max_size=3, unique=True))
    return {"spec": {"title": "random", "constraints": ["c"]}, "tasks": tasks}


def _closed_before(key: str, keys: list[str], index: int) -> bool:
    """True when no descendant of key is built at or after index."""
    return not any(k.startswith(key + ".") for k in keys[index:])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans(acyclic=True))
def test_random_valid_plans_validate(document: dict[str, Any]) -> None:
    plan = parse_plan_json(json.dumps(document))
    types = {t.key: t.type for t in plan.tasks}
    edges = validate_plan(plan)
    assert edges == expand_dependencies(plan)
    assert all(types[a] == TaskType.TASK and types[b] == TaskType.TASK and a != b for a, b in edges)
    assert len(set(edges)) == len(edges)


@settings(max_examples=150, deadline=None)
@given(plans(acyclic=False))
def test_expansion_never_touches_non_tasks(document: dict[str, Any]) -> None:
    plan = parse_plan_json(json.dumps(document))
    types = {t.key: t.type for t in plan.tasks}
    for a, b in expand_dependencies(plan):
        assert types[a] == TaskType.TASK and types[b] == TaskType.TASK and a != b
    try:
        validate_plan(plan)
    except DependencyCycle as cycle:
        assert cycle.cycle[0] == cycle.cycle[-1] and len(cycle.cycle) >= 3
        assert all(types[k] == TaskType.TASK for k in cycle.cycle)
