"""Cache keys. A context key hashes everything whose change must give fresh context: the
task (id, version, status), its parent's version, every dependency's (id, status, version),
the level, and the patterns and skills used (ids, usage counts, scores; or "degraded").

The pattern search and skill mapping results are cached separately with a short TTL, so a
cached GetContext asks only the orchestrator (GetTask) and the cache."""

from __future__ import annotations

import hashlib
import json

from devmatrix.v1 import common_pb2, patterns_pb2, skills_pb2

PREFIX = "devmatrix:context:v1"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()[:32]


def task_prefix(task_id: str) -> str:
    return f"{PREFIX}:ctx:{task_id}:"


def context_key(
    task: common_pb2.Task,
    parent: common_pb2.Task | None,
    dependencies: list[common_pb2.Task],
    level: str,
    patterns_sig: object,
    skills_sig: object,
) -> str:
    digest = _digest(
        {
            "task": [task.id, task.version, task.status],
            "parent": [parent.id, parent.version] if parent else None,
            "deps": sorted([d.id, d.status, d.version] for d in dependencies),
            "level": level,
            "patterns": patterns_sig,
            "skills": skills_sig,
        }
    )
    return f"{task_prefix(task.id)}{level}:{digest}"


def patterns_key(query: str, top_k: int) -> str:
    return f"{PREFIX}:patterns:{_digest([query, top_k])}"


def skills_key(task: common_pb2.Task) -> str:
    return f"{PREFIX}:skills:{task.id}:{task.version}"


def patterns_signature(result: patterns_pb2.SearchPatternsResponse | None) -> object:
    if result is None:
        return "degraded"
    return [
        [m.pattern.id, m.pattern.usage_count, round(m.pattern.success_rate, 4), round(m.hybrid_score, 4)]
        for m in result.matches
    ]


def skills_signature(result: skills_pb2.MapTaskToSkillsResponse | None) -> object:
    if result is None:
        return "degraded"
    return [[s.name, _digest(list(s.guidelines))] for s in result.skills]
