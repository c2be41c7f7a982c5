"""A hand-written (or tool-written) JSON task plan -> Plan.

Shape: {"spec": {"title", "overview", "tech_stack", "constraints", ...},
"tasks": [{"key", "type", "parent", "name", ...}]}. This module checks the JSON
itself (syntax, types, enum values, required fields) and reports every problem at
once as InvalidArgument, fields named by JSON path ("tasks[3].effort"). It does not
check the plan's structure (parents, dangling dependencies, cycles): the caller
runs `validate_plan` on the result, exactly as for a planner-built plan.

Defaults: a missing phase is inherited from the parent (a PHASE without one takes
its number from its PHASE_NAMES name); kind GENERIC; priority 2; effort 1 for a
TASK, 0 for a SUBTASK, and for a PHASE or TASK_GROUP the sum of its TASK
descendants, as the planner does.
"""

from __future__ import annotations

import json
from typing import Any

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from services.orchestrator.domain import (
    PHASE_NAMES,
    Endpoint,
    Entity,
    EntityField,
    ParsedSpec,
    Plan,
    PlannedTask,
    TaskKind,
    TaskType,
)
from services.orchestrator.spec_parser import classify_requirements

_TASK_FIELDS = {
    "key",
    "type",
    "parent",
    "name",
    "description",
    "effort",
    "skills",
    "depends_on",
    "phase",
    "kind",
    "priority",
    "acceptance_criteria",
    "expected_output",
}
_SPEC_FIELDS = {
    "title",
    "overview",
    "tech_stack",
    "entities",
    "endpoints",
    "functional_requirements",
    "constraints",
    "other_sections",
}
_PHASE_BY_NAME = {name.lower(): number for number, name in PHASE_NAMES.items()}


class _Reader:
    """Typed access to decoded JSON that records a violation instead of raising."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def fail(self, path: str, message: str) -> None:
        self.violations.append(FieldViolation(path, message))

    def obj(self, value: Any, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.fail(path, f"must be an object, got {_type(value)}")
        return None

    def unknown(self, data: dict[str, Any], allowed: set[str], path: str) -> None:
        # A misspelt key ("dependencies") must not silently drop information.
        for key in sorted(set(data) - allowed):
            self.fail(
                f"{path}.{key}" if path else key,
                f"unknown field; expected one of {', '.join(sorted(allowed))}",
            )

    def string(
        self, data: dict[str, Any], key: str, path: str, *, required: bool = False, default: str = ""
    ) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(f"{path}.{key}", "required")
            return default
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", f"must be a string, got {_type(value)}")
            return default
        if required and not value.strip():
            self.fail(f"{path}.{key}", "must not be empty")
        return value

    def integer(self, data: dict[str, Any], key: str, path: str, low: int, high: int) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{path}.{key}", f"must be an integer, got {_type(value)} {json.dumps(value)}")
            return None
        if not low <= value <= high:
            self.fail(f"{path}.{key}", f"{value} is outside {low}..{high}")
            return None
        return value

    def strings(self, data: dict[str, Any], key: str, path: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"{path}.{key}", f"must be a list of strings, got {_type(value)}")
            return []
        result = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                result.append(item)
            else:
                self.fail(f"{path}.{key}[{i}]", f"must be a string, got {_type(item)}")
        return result

    def mapping(self, data: dict[str, Any], key: str, path: str) -> dict[str, str]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(f"{path}.{key}", f"must be an object of strings, got {_type(value)}")
            return {}
        result = {}
        for name, item in value.items():
            if isinstance(item, str):
                result[name] = item
            else:
                self.fail(f"{path}.{key}.{name}", f"must be a string, got {_type(item)}")
        return result

    def enum(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        enum: type[TaskType] | type[TaskKind],
        *,
        required: bool = False,
    ) -> Any:
        raw = self.string(data, key, path, required=required)
        if not raw:
            return None
        try:
            return enum(raw.strip().upper())
        except ValueError:
            self.fail(f"{path}.{key}", f"{raw!r} is not one of {', '.join(m.value for m in enum)}")
            return None


def _type(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
    }.get(type(value), "null" if value is None else type(value).__name__)


def _array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _spec(r: _Reader, data: dict[str, Any]) -> ParsedSpec:
    r.unknown(data, _SPEC_FIELDS, "spec")
    spec = ParsedSpec(
        title=r.string(data, "title", "spec", required=True),
        overview=r.string(data, "overview", "spec"),
        tech_stack=r.mapping(data, "tech_stack", "spec"),
        functional_requirements=r.strings(data, "functional_requirements", "spec"),
        constraints=r.strings(data, "constraints", "spec"),
        other_sections=r.mapping(data, "other_sections", "spec"),
    )
    for i, raw in enumerate(_array(data.get("entities"))):
        path = f"spec.entities[{i}]"
        entity = r.obj(raw, path)
        if entity is None:
            continue
        fields = []
        if entity.get("fields") is not None and not isinstance(entity["fields"], list):
            r.fail(f"{path}.fields", f"must be an array, got {_type(entity['fields'])}")
        for j, raw_field in enumerate(_array(entity.get("fields"))):
            fpath = f"{path}.fields[{j}]"
            item = r.obj(raw_field, fpath)
            if item is not None:
                fields.append(
                    EntityField(
                        r.string(item, "name", fpath, required=True),
                        r.string(item, "type", fpath),
                        r.string(item, "constraints", fpath),
                    )
                )
        spec.entities.append(
            Entity(
                r.string(entity, "name", path, required=True), fields, r.string(entity, "description", path)
            )
        )
    for i, raw in enumerate(_array(data.get("endpoints"))):
        path = f"spec.endpoints[{i}]"
        endpoint = r.obj(raw, path)
        if endpoint is not None:
            spec.endpoints.append(
                Endpoint(
                    r.string(endpoint, "method", path, required=True).upper(),
                    r.string(endpoint, "path", path, required=True),
                    r.string(endpoint, "description", path),
                    r.string(endpoint, "entity", path) or None,
                )
            )
    for key in ("entities", "endpoints"):
        if data.get(key) is not None and not isinstance(data[key], list):
            r.fail(f"spec.{key}", f"must be an array, got {_type(data[key])}")
    return spec


def _task(r: _Reader, raw: Any, i: int) -> tuple[PlannedTask, bool, bool] | None:
    """The task plus whether phase and effort were given (defaults are filled in later)."""
    path = f"tasks[{i}]"
    data = r.obj(raw, path)
    if data is None:
        return None
    r.unknown(data, _TASK_FIELDS, path)
    parent = data.get("parent")
    if parent is not None and not isinstance(parent, str):
        r.fail(f"{path}.parent", f"must be a string or null, got {_type(parent)}")
        parent = None
    expected = data.get("expected_output")
    output = (
        "\n".join(r.strings(data, "expected_output", path))
        if isinstance(expected, list)
        else r.string(data, "expected_output", path)
    )
    type_ = r.enum(data, "type", path, TaskType, required=True)
    phase = r.integer(data, "phase", path, 1, 5)
    effort = r.integer(data, "effort", path, 0, 1_000)
    priority = r.integer(data, "priority", path, 1, 3)
    task = PlannedTask(
        key=r.string(data, "key", path, required=True),
        type=type_ or TaskType.TASK,
        name=r.string(data, "name", path, required=True),
        parent=parent or None,
        description=r.string(data, "description", path),
        phase=phase or 0,
        effort=effort if effort is not None else 0,
        priority=priority or 2,
        kind=r.enum(data, "kind", path, TaskKind) or TaskKind.GENERIC,
        acceptance_criteria=r.strings(data, "acceptance_criteria", path),
        expected_output=output,
        skills=r.strings(data, "skills", path),
        depends_on=r.strings(data, "depends_on", path),
    )
    return task, phase is not None, effort is not None


def _fill_defaults(items: list[tuple[PlannedTask, bool, bool]]) -> None:
    by_key = {task.key: task for task, _, _ in items}
    given_phase = {task.key for task, has_phase, _ in items if has_phase}
    for task, has_phase, _ in items:
        if task.type == TaskType.PHASE and not has_phase:
            task.phase = _PHASE_BY_NAME.get(task.name.strip().lower(), 0)
            given_phase.add(task.key)
    for task, has_phase, _ in items:
        if has_phase:
            continue
        seen = {task.key}
        parent = by_key.get(task.parent or "")
        while parent is not None and parent.key not in given_phase and parent.key not in seen:
            seen.add(parent.key)
            parent = by_key.get(parent.parent or "")
        if parent is not None and parent.key in given_phase:
            task.phase = parent.phase
    for task, _, has_effort in items:
        if not has_effort and task.type == TaskType.TASK:
            task.effort = 1
    children: dict[str, list[PlannedTask]] = {}
    for task, _, _ in items:
        if task.parent:
            children.setdefault(task.parent, []).append(task)

    def task_effort(key: str, seen: set[str]) -> int:
        total = 0
        for child in children.get(key, []):
            if child.key in seen:
                continue  # parent loops are validate_plan's to report
            seen.add(child.key)
            total += child.effort if child.type == TaskType.TASK else task_effort(child.key, seen)
        return total

    for task, _, has_effort in items:
        if not has_effort and task.type in (TaskType.PHASE, TaskType.TASK_GROUP):
            task.effort = min(task_effort(task.key, {task.key}), 1_000)


def parse_plan_json(text: str) -> Plan:
    """Decode and type-check a JSON plan; raise InvalidArgument listing every problem."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("plan JSON is empty", [FieldViolation("plan_json", "expected a JSON object")])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            [FieldViolation("plan_json", f"{exc.msg} (line {exc.lineno}, column {exc.colno})")],
        ) from None
    r = _Reader()
    root = r.obj(data, "plan_json")
    if root is None:
        raise InvalidArgument("plan JSON must be an object", r.violations)
    r.unknown(root, {"spec", "tasks"}, "")
    spec_data = r.obj(root.get("spec"), "spec") if "spec" in root else None
    if "spec" not in root:
        r.fail("spec", "required")
    spec = _spec(r, spec_data) if spec_data is not None else ParsedSpec(title="")
    raw_tasks = root.get("tasks")
    items: list[tuple[PlannedTask, bool, bool]] = []
    if not isinstance(raw_tasks, list):
        r.fail(
            "tasks", "required array" if raw_tasks is None else f"must be an array, got {_type(raw_tasks)}"
        )
    elif not raw_tasks:
        r.fail("tasks", "at least one task is required")
    else:
        items = [item for i, raw in enumerate(raw_tasks) if (item := _task(r, raw, i)) is not None]
    if r.violations:
        count = len(r.violations)
        first = r.violations[0]
        raise InvalidArgument(
            f"invalid plan JSON: {count} problem{'s' if count != 1 else ''}; first: {first.field}: {first.description}",
            r.violations,
        )
    _fill_defaults(items)
    return Plan(spec=spec, requirements=classify_requirements(spec), tasks=[task for task, _, _ in items])
