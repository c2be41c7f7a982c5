"""The small builder every planning step uses to append hierarchy nodes in order.

A TASK's effort is clamped to 1..8 and its checklist becomes SUBTASK nodes keyed
"<task>.s<n>" with effort 0 (their work is counted in the TASK).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.orchestrator.domain import PlannedTask, TaskKind, TaskType


def clamp(value: int) -> int:
    return max(1, min(8, value))


@dataclass
class PlanBuilder:
    tasks: list[PlannedTask] = field(default_factory=list)

    def node(self, key: str, type_: TaskType, name: str, parent: str | None, phase: int, **kw: Any) -> str:
        self.tasks.append(PlannedTask(key=key, type=type_, name=name, parent=parent, phase=phase, **kw))
        return key

    def group(self, key: str, name: str, phase: int, depends_on: list[str] | None = None) -> str:
        return self.node(
            key,
            TaskType.TASK_GROUP,
            name,
            f"P{phase}",
            phase,
            depends_on=depends_on or [],
            description=f"Deliverable: {name}",
        )

    def task(
        self,
        key: str,
        group: str,
        name: str,
        *,
        kind: TaskKind,
        effort: int,
        skills: list[str],
        criteria: list[str],
        output: str,
        subtasks: list[str],
        depends_on: list[str] | None = None,
        priority: int = 2,
        description: str = "",
    ) -> str:
        phase = int(group[1])
        self.node(
            key,
            TaskType.TASK,
            name,
            group,
            phase,
            kind=kind,
            effort=clamp(effort),
            skills=skills,
            acceptance_criteria=criteria,
            expected_output=output,
            depends_on=depends_on or [],
            priority=priority,
            description=description or name,
        )
        for i, item in enumerate(subtasks, 1):
            self.node(
                f"{key}.s{i}",
                TaskType.SUBTASK,
                item,
                key,
                phase,
                kind=kind,
                effort=0,
                priority=priority,
                description=f"{name}: {item}",
            )
        return key
