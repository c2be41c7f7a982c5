"""Task plans the execution tests run: each test states the graph it checks."""

from __future__ import annotations

from typing import Any

from tests.integration.plans import plan


def tasks_plan(tasks: list[dict[str, Any]], title: str = "Execution test") -> str:
    """`tasks` are TASK dicts (key, name, depends_on, kind, skills ...) in one phase and group."""
    return plan(
        [
            {"key": "P", "type": "PHASE", "name": "Implementation", "phase": 3},
            {"key": "G", "type": "TASK_GROUP", "parent": "P", "name": "Work"},
            *({"type": "TASK", "parent": "G", "name": t["key"], **t} for t in tasks),
        ],
        title,
    )


def wide(n: int, prefix: str = "t") -> str:
    """n independent tasks (one wave)."""
    return tasks_plan([{"key": f"{prefix}{i}"} for i in range(n)])


def chains() -> str:
    """a -> b -> c (a chain), d -> e (unrelated), f alone."""
    return tasks_plan(
        [
            {"key": "a", "kind": "MODEL", "skills": ["backend-models"]},
            {"key": "b", "kind": "API", "skills": ["backend-api"], "depends_on": ["a"]},
            {"key": "c", "kind": "TEST", "skills": ["testing-unit-tests"], "depends_on": ["b"]},
            {"key": "d", "kind": "CONFIG"},
            {"key": "e", "kind": "UI", "skills": ["frontend-components"], "depends_on": ["d"]},
            {"key": "f", "kind": "DOCS"},
        ]
    )
