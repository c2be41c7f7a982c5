"""Patterns, failures and tasks as Qdrant payloads, and back.

A pattern's payload holds its content, its metadata and its usage statistics:
`usage_count` and `successes` (observed uses), `prior_rate` and `prior_weight` (the
declared success rate counted as that many uses), `success_rate` (the running mean of
both), `production_score` / `production_ready` (derived, stored so searches filter on
them), `content_hash` (what the golden loader and StorePattern compare to skip unchanged
content) and `outcomes` (the last request ids RecordOutcome applied, with their flags).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from services.patterns.domain import Failure, Pattern, is_ready, production_score

CONTENT_FIELDS = (
    "name",
    "category",
    "language",
    "framework",
    "description",
    "code",
    "success_rate",
    "test_coverage",
    "security_score",
    "observability_score",
    "docker_ready",
    "tags",
    "source",
)


def content_hash(p: Pattern, extra: dict[str, Any] | None = None) -> str:
    content = {f: getattr(p, f) for f in CONTENT_FIELDS} | (extra or {})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def success_rate(prior_rate: float, prior_weight: float, usage_count: int, successes: int) -> float:
    total = prior_weight + usage_count
    return (prior_rate * prior_weight + successes) / total if total else prior_rate


def pattern_payload(
    p: Pattern,
    *,
    digest: str,
    usage_count: int = 0,
    successes: int = 0,
    prior_rate: float | None = None,
    prior_weight: float = 0.0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    prior = p.success_rate if prior_rate is None else prior_rate
    rate = round(success_rate(prior, prior_weight, usage_count, successes), 6)
    score = production_score(rate, p.test_coverage, p.security_score, p.observability_score)
    return {
        "name": p.name,
        "category": p.category,
        "language": p.language,
        "framework": p.framework,
        "description": p.description,
        "code": p.code,
        "tags": list(p.tags),
        "source": p.source,
        "test_coverage": p.test_coverage,
        "security_score": p.security_score,
        "observability_score": p.observability_score,
        "docker_ready": p.docker_ready,
        "usage_count": usage_count,
        "successes": successes,
        "prior_rate": prior,
        "prior_weight": prior_weight,
        "success_rate": rate,
        "production_score": score,
        "production_ready": is_ready(score),
        "content_hash": digest,
        "outcomes": [],
    } | (extra or {})


def pattern_from_payload(point_id: str, payload: dict[str, Any]) -> Pattern:
    return Pattern(
        id=point_id,
        name=payload.get("name", ""),
        category=payload.get("category", ""),
        language=payload.get("language", ""),
        framework=payload.get("framework", ""),
        description=payload.get("description", ""),
        code=payload.get("code", ""),
        success_rate=float(payload.get("success_rate", 0.0)),
        test_coverage=float(payload.get("test_coverage", 0.0)),
        security_score=float(payload.get("security_score", 0.0)),
        observability_score=float(payload.get("observability_score", 0.0)),
        docker_ready=bool(payload.get("docker_ready", False)),
        tags=list(payload.get("tags", [])),
        source=payload.get("source", ""),
        usage_count=int(payload.get("usage_count", 0)),
    )


def failure_payload(f: Failure) -> dict[str, Any]:
    return {
        "task_id": f.task_id,
        "attempted": f.attempted,
        "error": f.error,
        "lesson": f.lesson,
        "category": f.category,
    }


def failure_from_payload(point_id: str, payload: dict[str, Any]) -> Failure:
    return Failure(
        id=point_id,
        task_id=payload.get("task_id", ""),
        attempted=payload.get("attempted", ""),
        error=payload.get("error", ""),
        lesson=payload.get("lesson", ""),
        category=payload.get("category", ""),
    )
