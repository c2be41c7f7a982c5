"""Small JSON task plans built in the tests, so each test states the graph it checks."""

from __future__ import annotations

import json
from typing import Any


def plan(tasks: list[dict[str, Any]], title: str = "Test plan") -> str:
    return json.dumps({"spec": {"title": title, "overview": "A plan written by a test."}, "tasks": tasks})


def diamond(title: str = "Test plan") -> str:
    """a -> (b, c) -> d inside one phase and group, d with two subtasks; efforts make b the critical branch."""
    return plan(
        [
            {"key": "P", "type": "PHASE", "name": "Implementation", "phase": 3},
            {"key": "G", "type": "TASK_GROUP", "parent": "P", "name": "Core"},
            {"key": "a", "type": "TASK", "parent": "G", "name": "Set up", "effort": 1},
            {"key": "b", "type": "TASK", "parent": "G", "name": "Models", "effort": 5, "depends_on": ["a"]},
            {"key": "c", "type": "TASK", "parent": "G", "name": "Config", "effort": 2, "depends_on": ["a"]},
            {"key": "d", "type": "TASK", "parent": "G", "name": "API", "effort": 3, "depends_on": ["b", "c"]},
            {"key": "d1", "type": "SUBTASK", "parent": "d", "name": "Define routes"},
            {"key": "d2", "type": "SUBTASK", "parent": "d", "name": "Add validation"},
        ],
        title,
    )


def cyclic() -> str:
    return plan(
        [
            {"key": "P", "type": "PHASE", "name": "Implementation", "phase": 3},
            {"key": "G", "type": "TASK_GROUP", "parent": "P", "name": "Core"},
            {"key": "x", "type": "TASK", "parent": "G", "name": "X", "depends_on": ["z"]},
            {"key": "y", "type": "TASK", "parent": "G", "name": "Y", "depends_on": ["x"]},
            {"key": "z", "type": "TASK", "parent": "G", "name": "Z", "depends_on": ["y"]},
        ]
    )
