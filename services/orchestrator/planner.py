"""Deterministic agent-os planning: ParsedSpec -> PHASE > TASK_GROUP > TASK > SUBTASK.

Keys are readable and stable: "P3" (phase), "P3.models" (group),
"P3.models.task" (task), "P3.models.task.s1" (subtask); entity parts are the
entity's kebab-case name. Dependencies are declared where they read naturally (a
phase on the previous phase, the models group on the database task, deployment on
the whole testing phase) and expanded to TASK pairs by `expand_dependencies`.

Effort: a TASK has 1..8 (hours-ish, from the size of what it covers); a SUBTASK
has 0 because its work is counted in its TASK; a PHASE or TASK_GROUP carries the
sum of the efforts of its TASK descendants (0 when it has none). A PHASE or group
takes the highest priority (lowest number) of its tasks.
"""

from __future__ import annotations

from services.orchestrator.domain import (
    PHASE_NAMES,
    ParsedSpec,
    Plan,
    PlannedTask,
    TaskType,
)
from services.orchestrator.plan_builder import PlanBuilder
from services.orchestrator.plan_checks import expand_dependencies, find_cycle, validate_plan
from services.orchestrator.plan_criteria import (
    fk_order,
    layout_for,
)
from services.orchestrator.plan_implementation import plan_api, plan_data_layer, plan_features, plan_ui
from services.orchestrator.plan_phases import plan_analysis_design, plan_delivery, plan_setup, plan_testing
from services.orchestrator.spec_parser import classify_requirements, ui_pages

__all__ = ["build_plan", "expand_dependencies", "find_cycle", "validate_plan"]


def _roll_up(tasks: list[PlannedTask]) -> None:
    children: dict[str, list[PlannedTask]] = {}
    for task in tasks:
        if task.parent:
            children.setdefault(task.parent, []).append(task)

    def leaves(key: str) -> list[PlannedTask]:
        found = []
        for child in children.get(key, []):
            found.extend([child] if child.type == TaskType.TASK else leaves(child.key))
        return found

    for task in tasks:
        if task.type in (TaskType.PHASE, TaskType.TASK_GROUP):
            below = leaves(task.key)
            task.effort = sum(t.effort for t in below)
            task.priority = min((t.priority for t in below), default=2)


def build_plan(spec: ParsedSpec) -> Plan:
    """The agent-os hierarchy for a spec; same spec in, identical plan out."""
    layout = layout_for(spec)
    has_ui = bool(ui_pages(spec))
    b = PlanBuilder()
    for phase, name in PHASE_NAMES.items():
        b.node(
            f"P{phase}",
            TaskType.PHASE,
            name,
            None,
            phase,
            description=f"Phase {phase}: {name}",
            depends_on=[f"P{phase - 1}"] if phase in (2, 3) else [],
        )
    plan_analysis_design(b, spec, has_ui)
    plan_setup(b, spec, layout)
    if spec.entities:
        plan_data_layer(b, spec, layout, fk_order(spec.entities))
    api_groups = plan_api(b, spec, layout)
    if has_ui:
        plan_ui(b, spec, layout, api_groups)
    if not spec.entities and not spec.endpoints:
        plan_features(b, spec, layout)
    plan_testing(b, spec, layout, api_groups, has_ui)
    plan_delivery(b, spec, layout)
    # Phases first, then groups and tasks in build order: readable and stable.
    ordered = [t for t in b.tasks if t.type == TaskType.PHASE] + [
        t for t in b.tasks if t.type != TaskType.PHASE
    ]
    _roll_up(ordered)
    return Plan(spec=spec, requirements=classify_requirements(spec), tasks=ordered)
