"""Structural checks on a task plan and the expansion of dependencies to TASK level.

Dependencies may be declared on any node; execution only knows TASKs, so
`expand_dependencies` maps every declared dependency onto TASK pairs:

- a PHASE or TASK_GROUP stands for all its TASK descendants (on either side);
- a SUBTASK stands for its parent TASK (a checklist item is not scheduled alone);
- a dependency between a node and its own ancestor or descendant is containment,
  not ordering (a task cannot wait for the group it is part of), so it is ignored;
- pairs whose two ends are the same TASK after mapping (e.g. two subtasks of one
  task) are dropped.

The result is deduplicated and ordered by first appearance, so it is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable

from devmatrix.runtime.errors import (
    DependencyCycle,
    FieldViolation,
    InvalidArgument,
)
from devmatrix.standards import SKILL_NAMES
from services.orchestrator.domain import Plan, PlannedTask, TaskType

MAX_TASKS = 20_000
MAX_EFFORT = 1_000
_ALLOWED_PARENTS: dict[TaskType, tuple[TaskType | None, ...]] = {
    TaskType.PHASE: (None,),
    TaskType.TASK_GROUP: (None, TaskType.PHASE),
    TaskType.TASK: (TaskType.TASK_GROUP, TaskType.PHASE),
    TaskType.SUBTASK: (TaskType.TASK,),
}
_SKILLS = frozenset(SKILL_NAMES)


def _index(tasks: Iterable[PlannedTask]) -> dict[str, PlannedTask]:
    by_key: dict[str, PlannedTask] = {}
    for task in tasks:
        by_key.setdefault(task.key, task)  # duplicates are validate_plan's to report
    return by_key


def _ancestors(key: str, by_key: dict[str, PlannedTask]) -> list[str]:
    chain: list[str] = []
    seen = {key}
    parent = by_key[key].parent if key in by_key else None
    while parent is not None and parent in by_key and parent not in seen:
        chain.append(parent)
        seen.add(parent)
        parent = by_key[parent].parent
    return chain


def expand_dependencies(plan: Plan) -> list[tuple[str, str]]:
    """(task_key, dependency_key) pairs between TASK nodes; see the module docstring."""
    by_key = _index(plan.tasks)
    ancestors = {key: _ancestors(key, by_key) for key in by_key}
    task_descendants: dict[str, list[str]] = {key: [] for key in by_key}
    for key, task in by_key.items():
        if task.type == TaskType.TASK:
            for node in [key, *ancestors[key]]:
                task_descendants[node].append(key)

    def targets(key: str) -> list[str]:
        task = by_key[key]
        if task.type == TaskType.SUBTASK:
            return [a for a in ancestors[key] if by_key[a].type == TaskType.TASK][:1]
        if task.type == TaskType.TASK:
            return [key]
        return task_descendants[key]

    edges: dict[tuple[str, str], None] = {}
    for key, task in by_key.items():
        for dep in task.depends_on:
            if dep not in by_key or dep == key or dep in ancestors[key] or key in ancestors[dep]:
                continue
            dep_targets = targets(dep)
            for source in targets(key):
                for target in dep_targets:
                    if source != target:
                        edges[(source, target)] = None
    return list(edges)


def find_cycle(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """One cycle in dependency order (first key repeated last), found by iterative DFS."""
    adjacency: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target in edges:
        adjacency.setdefault(source, []).append(target)
        adjacency.setdefault(target, [])
    state: dict[str, int] = {}  # 1 on the DFS stack, 2 finished
    for root in adjacency:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        state[root] = 1
        while stack:
            node, index = stack[-1]
            if index < len(adjacency[node]):
                stack[-1] = (node, index + 1)
                nxt = adjacency[node][index]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return None


def _structure_violations(plan: Plan) -> list[FieldViolation]:
    violations: list[FieldViolation] = []
    first_index: dict[str, int] = {}
    for i, task in enumerate(plan.tasks):
        if not isinstance(task.key, str) or not task.key.strip():
            violations.append(FieldViolation(f"tasks[{i}].key", "missing key"))
        elif task.key in first_index:
            violations.append(
                FieldViolation(
                    f"tasks[{i}].key", f"duplicate key {task.key!r} (first at tasks[{first_index[task.key]}])"
                )
            )
        else:
            first_index[task.key] = i
    by_key = _index(plan.tasks)
    for i, task in enumerate(plan.tasks):
        where = f"tasks[{i}]"
        if not isinstance(task.name, str) or not task.name.strip():
            violations.append(FieldViolation(f"{where}.name", "missing name"))
        if task.type not in tuple(TaskType):
            violations.append(FieldViolation(f"{where}.type", f"unknown type {task.type!r}"))
            continue
        allowed = _ALLOWED_PARENTS[TaskType(task.type)]
        if task.parent is None:
            if None not in allowed:
                violations.append(FieldViolation(f"{where}.parent", f"a {task.type} needs a parent"))
        elif task.parent not in by_key:
            violations.append(FieldViolation(f"{where}.parent", f"unknown parent {task.parent!r}"))
        elif by_key[task.parent].type not in allowed:
            names = " or ".join("root" if a is None else str(a) for a in allowed)
            violations.append(
                FieldViolation(
                    f"{where}.parent",
                    f"a {task.type} cannot be under {by_key[task.parent].type} {task.parent!r} (allowed: {names})",
                )
            )
        for j, dep in enumerate(task.depends_on):
            if dep == task.key:
                violations.append(
                    FieldViolation(f"{where}.depends_on[{j}]", "a task cannot depend on itself")
                )
            elif dep not in by_key:
                violations.append(FieldViolation(f"{where}.depends_on[{j}]", f"unknown task {dep!r}"))
        for j, skill in enumerate(task.skills):
            if skill not in _SKILLS:
                violations.append(FieldViolation(f"{where}.skills[{j}]", f"unknown skill {skill!r}"))
        if isinstance(task.effort, bool) or not isinstance(task.effort, int):
            violations.append(FieldViolation(f"{where}.effort", f"must be an integer, got {task.effort!r}"))
        elif not 0 <= task.effort <= MAX_EFFORT:
            violations.append(FieldViolation(f"{where}.effort", f"{task.effort} is outside 0..{MAX_EFFORT}"))
        if not isinstance(task.phase, int) or not 0 <= task.phase <= 5:
            violations.append(FieldViolation(f"{where}.phase", f"{task.phase!r} is outside 0..5"))
        if not isinstance(task.priority, int) or not 1 <= task.priority <= 3:
            violations.append(FieldViolation(f"{where}.priority", f"{task.priority!r} is outside 1..3"))
    return violations


def validate_plan(plan: Plan) -> list[tuple[str, str]]:
    """Check a plan; return its TASK-level dependency edges (see expand_dependencies).

    All structural problems are raised together as one InvalidArgument (one
    FieldViolation each); only a structurally sound plan is checked for cycles,
    which raise DependencyCycle naming one cycle "a -> b -> a" in dependency order.
    """
    if len(plan.tasks) > MAX_TASKS:
        raise InvalidArgument(
            f"plan has {len(plan.tasks)} tasks; the limit is {MAX_TASKS}",
            [FieldViolation("tasks", f"{len(plan.tasks)} tasks; at most {MAX_TASKS} are allowed")],
        )
    violations = _structure_violations(plan)
    if violations:
        count = len(violations)
        raise InvalidArgument(
            f"invalid plan: {count} problem{'s' if count != 1 else ''}; first: "
            f"{violations[0].field}: {violations[0].description}",
            violations,
        )
    edges = expand_dependencies(plan)
    task_keys = [t.key for t in plan.tasks if t.type == TaskType.TASK]
    cycle = find_cycle(task_keys, edges)
    if cycle:
        text = " -> ".join(cycle)
        raise DependencyCycle(
            f"dependency cycle: {text}",
            cycle=cycle,
        )
    return edges
