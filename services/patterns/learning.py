"""Storing patterns and learning from their use.

- StorePattern: a pattern's id is a UUID derived from its name, so storing the same
  pattern again is an upsert of the same point; unchanged content (same content hash)
  is not re-applied, and a changed one keeps its usage statistics.
- RecordOutcome: usage_count += 1, successes += success; the success rate is the running
  mean of the observed outcomes and the declared rate (counted as PRIOR_WEIGHT = 10 uses
  for golden and stored patterns, 0 for learned ones). The production score is recomputed;
  crossing 0.80 upwards promotes the pattern (production_ready), downwards demotes it, and
  the response says so. The last 256 applied request ids are kept in the pattern's
  payload (`outcomes`) with their flags: a retried request_id returns the pattern and the
  flags of the first application without counting again. The outcome also updates the
  success rate of the task in task_embeddings when that task was indexed.
- StoreSuccessPattern: a task's validated code becomes a pattern (source "learned",
  named after its description and task, stored in code_patterns and success_patterns,
  one success observed; coverage, security and observability take the validation
  score until measured). Its id derives from its name, so a retry (same request_id or
  same content) stores nothing new.
- StoreFailure: what was tried, the error and the lesson, embedded for similarity
  search. Its id derives from the request_id (or, without one, from the content), so a
  retry does not store it twice.
- IndexTask: a task's name and description in task_embeddings, id derived from task_id.

Every check runs before anything is written: a refused call stores nothing.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from devmatrix.runtime.errors import NotFound
from services.patterns import records
from services.patterns.domain import (
    MAX_CODE,
    MAX_DESCRIPTION,
    MAX_ID,
    MAX_TEXT,
    NAME_RE,
    PRIOR_WEIGHT,
    SOURCES,
    Failure,
    Outcome,
    Pattern,
    check_category,
    check_framework,
    check_id,
    check_language,
    check_pattern,
    check_request_id,
    check_text,
    check_unit,
    invalid,
    is_ready,
    pattern_id,
    production_score,
    stable_id,
)
from services.patterns.runtime import PatternsRuntime
from services.patterns.store import FAILURES, PATTERNS, SUCCESSES, TASKS

KEPT_OUTCOMES = 256
LEARNED = "learned"
DEFAULT_LEARNED_CATEGORY = "services"


def resolve_pattern_id(value: str, field_name: str = "pattern_id") -> str:
    """A pattern's UUID, or its name (the id derives from it)."""
    text = check_id(value, field_name)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if not NAME_RE.match(text):
        raise invalid(field_name, f"{text[:60]!r} is neither a pattern UUID nor a pattern name")
    return pattern_id(text)


async def get_pattern(rt: PatternsRuntime, value: str) -> Pattern:
    point_id = resolve_pattern_id(value)
    payload = await rt.store.get_one(PATTERNS, point_id)
    if payload is None:
        raise NotFound(f"pattern {value} not found", "pattern", value)
    return records.pattern_from_payload(point_id, payload)


async def store_pattern(rt: PatternsRuntime, pattern: Pattern, request_id: str = "") -> Pattern:
    check_request_id(request_id)
    expected = pattern_id(pattern.name) if pattern.name else ""
    if pattern.id and pattern.id != expected:
        check_pattern(pattern)
        raise invalid("pattern.id", "leave empty: a pattern's id is derived from its name")
    pattern.source = pattern.source or "custom"
    if pattern.source not in SOURCES:
        raise invalid("pattern.source", f"one of {', '.join(SOURCES)}")
    check_pattern(pattern)
    pattern.id = expected
    digest = records.content_hash(pattern)
    async with rt.lock(pattern.id):
        old = await rt.store.get_one(PATTERNS, pattern.id)
        if old is not None and old.get("content_hash") == digest:
            return records.pattern_from_payload(pattern.id, old)
        [vector] = await rt.embedder.encode([pattern.embedding_text()])
        payload = records.pattern_payload(
            pattern,
            digest=digest,
            usage_count=int(old.get("usage_count", 0)) if old else 0,
            successes=int(old.get("successes", 0)) if old else 0,
            prior_weight=PRIOR_WEIGHT,
        )
        if old:
            payload["outcomes"] = old.get("outcomes", [])
        await rt.store.upsert(PATTERNS, [(pattern.id, vector, payload)])
    if old is None:
        rt.metrics.stored.labels(pattern.source).inc()
    return records.pattern_from_payload(pattern.id, payload)


async def record_outcome(
    rt: PatternsRuntime,
    pattern_ref: str,
    task_id: str,
    success: bool,
    validation_score: float,
    request_id: str = "",
) -> Outcome:
    check_request_id(request_id)
    point_id = resolve_pattern_id(pattern_ref)
    task_id = check_text(task_id, "task_id", MAX_ID, required=False)
    validation_score = check_unit(validation_score, "validation_score")
    async with rt.lock(point_id):
        old = await rt.store.get_one(PATTERNS, point_id)
        if old is None:
            raise NotFound(f"pattern {pattern_ref} not found", "pattern", pattern_ref)
        outcomes: list[list[Any]] = list(old.get("outcomes", []))
        if request_id:
            for seen_id, promoted, demoted in outcomes:
                if seen_id == request_id:
                    return Outcome(records.pattern_from_payload(point_id, old), bool(promoted), bool(demoted))
        usage = int(old.get("usage_count", 0)) + 1
        successes = int(old.get("successes", 0)) + int(success)
        rate = round(
            records.success_rate(
                float(old.get("prior_rate", 0.0)), float(old.get("prior_weight", 0.0)), usage, successes
            ),
            6,
        )
        score = production_score(
            rate,
            float(old.get("test_coverage", 0.0)),
            float(old.get("security_score", 0.0)),
            float(old.get("observability_score", 0.0)),
        )
        was_ready, ready = bool(old.get("production_ready", False)), is_ready(score)
        promoted, demoted = ready and not was_ready, was_ready and not ready
        mean = float(old.get("validation_mean", 0.0))
        if request_id:
            outcomes = [*outcomes, [request_id, promoted, demoted]][-KEPT_OUTCOMES:]
        update = {
            "usage_count": usage,
            "successes": successes,
            "success_rate": rate,
            "production_score": score,
            "production_ready": ready,
            "validation_mean": round(mean + (validation_score - mean) / usage, 6),
            "outcomes": outcomes,
        }
        await rt.store.set_payload(PATTERNS, point_id, update)
        if old.get("source") == LEARNED:
            await rt.store.set_payload(
                SUCCESSES, point_id, {k: update[k] for k in ("usage_count", "success_rate")}
            )
    if task_id:
        await _task_outcome(rt, task_id, success)
    return Outcome(records.pattern_from_payload(point_id, old | update), promoted, demoted)


async def _task_outcome(rt: PatternsRuntime, task_id: str, success: bool) -> None:
    point_id = stable_id("task", task_id)
    async with rt.lock(point_id):
        task = await rt.store.get_one(TASKS, point_id)
        if task is None:
            return
        uses = int(task.get("uses", 0)) + 1
        successes = int(task.get("successes", 0)) + int(success)
        await rt.store.set_payload(
            TASKS,
            point_id,
            {"uses": uses, "successes": successes, "success_rate": round(successes / uses, 6)},
        )


def _slug(text: str, limit: int = 48) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            break
        slug = candidate
    return slug or "pattern"


async def store_success_pattern(
    rt: PatternsRuntime,
    *,
    task_id: str,
    spec_id: str,
    description: str,
    code: str,
    language: str,
    framework: str,
    category: str,
    validation_score: float,
    request_id: str = "",
) -> Pattern:
    check_request_id(request_id)
    task_id = check_id(task_id, "task_id")
    spec_id = check_text(spec_id, "spec_id", MAX_ID, required=False)
    description = check_text(description, "description", MAX_DESCRIPTION)
    check_text(code, "code", MAX_CODE)
    language = check_language(language, required=True)
    framework = check_framework(framework)
    category = check_category(category) or DEFAULT_LEARNED_CATEGORY
    validation_score = check_unit(validation_score, "validation_score")
    digest_of_task = hashlib.sha256(task_id.encode()).hexdigest()[:8]
    pattern = Pattern(
        name=f"learned-{_slug(description)}-{digest_of_task}",
        category=category,
        language=language,
        framework=framework,
        description=description,
        code=code,
        success_rate=1.0,
        test_coverage=validation_score,
        security_score=validation_score,
        observability_score=validation_score,
        tags=["learned", f"task:{task_id}"[:50]],
        source=LEARNED,
    )
    extra = {"task_id": task_id, "spec_id": spec_id, "validation_score": validation_score}
    digest = records.content_hash(pattern, extra)
    async with rt.lock(pattern.id):
        old = await rt.store.get_one(PATTERNS, pattern.id)
        if old is not None and (
            old.get("content_hash") == digest or (request_id and request_id in old.get("store_requests", []))
        ):
            return records.pattern_from_payload(pattern.id, old)
        [vector] = await rt.embedder.encode([pattern.embedding_text()])
        usage = int(old.get("usage_count", 0)) + 1 if old else 1
        successes = int(old.get("successes", 0)) + 1 if old else 1
        requests = [*(old.get("store_requests", []) if old else []), request_id][-KEPT_OUTCOMES:]
        payload = records.pattern_payload(
            pattern,
            digest=digest,
            usage_count=usage,
            successes=successes,
            prior_rate=0.0,
            prior_weight=0.0,
            extra=extra | {"store_requests": [r for r in requests if r]},
        )
        if old:
            payload["outcomes"] = old.get("outcomes", [])
        await rt.store.upsert(PATTERNS, [(pattern.id, vector, payload)])
        await rt.store.upsert(SUCCESSES, [(pattern.id, vector, payload)])
    if old is None:
        rt.metrics.stored.labels(LEARNED).inc()
    return records.pattern_from_payload(pattern.id, payload)


async def store_failure(rt: PatternsRuntime, failure: Failure, request_id: str = "") -> Failure:
    check_request_id(request_id)
    failure.task_id = check_text(failure.task_id, "failure.task_id", MAX_ID, required=False)
    failure.attempted = check_text(failure.attempted, "failure.attempted", MAX_TEXT, required=False)
    failure.error = check_text(failure.error, "failure.error", MAX_TEXT)
    failure.lesson = check_text(failure.lesson, "failure.lesson", MAX_TEXT)
    failure.category = check_category(failure.category, "failure.category")
    key = "\0".join((failure.task_id, failure.attempted, failure.error, failure.lesson))
    failure.id = stable_id("failure-request", request_id) if request_id else stable_id("failure", key)
    async with rt.lock(failure.id):
        old = await rt.store.get_one(FAILURES, failure.id)
        if old is not None:
            return records.failure_from_payload(failure.id, old)
        [vector] = await rt.embedder.encode([failure.embedding_text()])
        await rt.store.upsert(FAILURES, [(failure.id, vector, records.failure_payload(failure))])
    return failure


async def index_task(
    rt: PatternsRuntime, task_id: str, spec_id: str, task_type: str, kind: str, name: str, description: str
) -> bool:
    task_id = check_id(task_id, "task_id")
    spec_id = check_text(spec_id, "spec_id", MAX_ID, required=False)
    task_type = check_text(task_type, "task_type", 50, required=False)
    kind = check_text(kind, "kind", 50, required=False)
    name = check_text(name, "name", 500)
    description = check_text(description, "description", MAX_DESCRIPTION, required=False)
    point_id = stable_id("task", task_id)
    text = f"{name}. {description}" if description else name
    async with rt.lock(point_id):
        old = await rt.store.get_one(TASKS, point_id) or {}
        [vector] = await rt.embedder.encode([text])
        payload = {
            "task_id": task_id,
            "spec_id": spec_id,
            "task_type": task_type,
            "kind": kind,
            "name": name,
            "description": description,
            "uses": int(old.get("uses", 0)),
            "successes": int(old.get("successes", 0)),
            "success_rate": float(old.get("success_rate", 0.0)),
        }
        await rt.store.upsert(TASKS, [(point_id, vector, payload)])
    return True
