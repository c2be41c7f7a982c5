"""Learning from use: outcomes, promotion and demotion, success patterns, failures,
idempotent retries, and nothing stored by a refused call."""

from __future__ import annotations

import pytest

from devmatrix.runtime.errors import InvalidArgument, NotFound
from services.patterns import learning
from services.patterns.domain import Failure, Pattern, pattern_id
from services.patterns.runtime import PatternsRuntime
from services.patterns.search import SearchQuery, search_failures, search_patterns
from services.patterns.store import FAILURES, PATTERNS, SUCCESSES, TASKS


def pattern(name: str, success_rate: float, **kw: object) -> Pattern:
    fields = {
        "category": "api",
        "language": "python",
        "framework": "fastapi",
        "description": f"FastAPI endpoint pattern {name}",
        "code": "async def handler():\n    return {}\n",
        "success_rate": success_rate,
        "test_coverage": 0.9,
        "security_score": 0.9,
        "observability_score": 0.9,
    } | kw
    return Pattern(name=name, **fields)  # type: ignore[arg-type]


async def test_store_pattern_is_an_idempotent_upsert(rt: PatternsRuntime) -> None:
    stored = await learning.store_pattern(rt, pattern("crud-endpoint", 0.9), "r1")
    assert stored.id == pattern_id("crud-endpoint") and stored.source == "custom"
    again = await learning.store_pattern(rt, pattern("crud-endpoint", 0.9), "r1")
    assert again == stored
    assert await rt.store.count(PATTERNS) == 1
    assert (await learning.get_pattern(rt, "crud-endpoint")).id == stored.id  # by name or id
    assert (await learning.get_pattern(rt, stored.id)).name == "crud-endpoint"
    stored_total = rt.metrics.registry.get_sample_value(
        "devmatrix_patterns_stored_total", {"source": "custom"}
    )
    assert stored_total == 1


async def test_promotion_after_repeated_success(rt: PatternsRuntime) -> None:
    # 0.4*0.5 + 0.3*0.9 + 0.2*0.9 + 0.1*0.9 = 0.74: not ready.
    p = await learning.store_pattern(rt, pattern("unproven", 0.5))
    assert not p.production_ready
    flags = []
    for i in range(6):
        outcome = await learning.record_outcome(rt, p.id, f"task-{i}", True, 0.9, f"ok-{i}")
        flags.append(outcome.promoted)
        assert not outcome.demoted
    # Prior 0.5 weighs 10 uses: (5 + 5) / 15 = 0.667 -> score 0.807 after the fifth success.
    assert flags == [False, False, False, False, True, False]
    assert outcome.pattern.usage_count == 6
    assert outcome.pattern.success_rate == pytest.approx(11 / 16, abs=1e-5)
    assert outcome.pattern.production_ready
    ready = await search_patterns(rt, SearchQuery(query="endpoint", production_ready_only=True))
    assert [m.pattern.name for m in ready] == ["unproven"]


async def test_demotion_after_repeated_failure(rt: PatternsRuntime) -> None:
    p = await learning.store_pattern(rt, pattern("fragile", 0.95))
    assert p.production_ready  # 0.38 + 0.54 = 0.92
    flags = []
    for i in range(6):
        outcome = await learning.record_outcome(rt, p.id, f"task-{i}", False, 0.2, f"bad-{i}")
        flags.append(outcome.demoted)
    # (9.5 + 0) / (10 + n) < 0.65 from n = 5 on.
    assert flags == [False, False, False, False, True, False]
    assert not outcome.pattern.production_ready and outcome.pattern.production_score < 0.8
    assert await search_patterns(rt, SearchQuery(query="endpoint", production_ready_only=True)) == []


async def test_record_outcome_retry_does_not_double_count(rt: PatternsRuntime) -> None:
    p = await learning.store_pattern(rt, pattern("retried", 0.9))
    first = await learning.record_outcome(rt, p.id, "t1", True, 1.0, "req-1")
    retry = await learning.record_outcome(rt, p.id, "t1", True, 1.0, "req-1")
    assert first.pattern.usage_count == retry.pattern.usage_count == 1
    assert (await learning.get_pattern(rt, p.id)).usage_count == 1
    assert (await learning.record_outcome(rt, p.id, "t1", True, 1.0, "req-2")).pattern.usage_count == 2
    assert (await learning.record_outcome(rt, p.id, "t1", True, 1.0)).pattern.usage_count == 3


async def test_outcome_updates_an_indexed_task(rt: PatternsRuntime) -> None:
    p = await learning.store_pattern(rt, pattern("task-stats", 0.9))
    await learning.index_task(rt, "t9", "s1", "TASK", "api", "Build the endpoint", "")
    await learning.record_outcome(rt, p.id, "t9", True, 1.0)
    await learning.record_outcome(rt, p.id, "t9", False, 0.0)
    [task] = (await rt.store.get(TASKS, [learning.stable_id("task", "t9")])).values()
    assert task["success_rate"] == 0.5 and task["uses"] == 2


async def test_unknown_and_bad_outcomes_change_nothing(rt: PatternsRuntime) -> None:
    p = await learning.store_pattern(rt, pattern("guarded", 0.9))
    with pytest.raises(NotFound):
        await learning.record_outcome(rt, "no-such-pattern", "t", True, 1.0)
    with pytest.raises(NotFound):
        await learning.get_pattern(rt, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidArgument) as caught:
        await learning.record_outcome(rt, p.id, "t", True, 1.5)
    assert caught.value.violations[0].field == "validation_score"
    with pytest.raises(InvalidArgument):
        await learning.record_outcome(rt, "Not A Name!", "t", True, 1.0)
    assert (await learning.get_pattern(rt, p.id)).usage_count == 0


async def test_bad_patterns_are_refused_and_not_stored(rt: PatternsRuntime) -> None:
    for bad, field in [
        (pattern("Bad Name", 0.9), "pattern.name"),
        (pattern("ok-name", 1.1), "pattern.success_rate"),
        (pattern("ok-name", 0.9, category="nope"), "pattern.category"),
        (pattern("ok-name", 0.9, code=""), "pattern.code"),
        (pattern("ok-name", 0.9, id="another-id"), "pattern.id"),
        (pattern("ok-name", 0.9, source="golden-ish"), "pattern.source"),
    ]:
        with pytest.raises(InvalidArgument) as caught:
            await learning.store_pattern(rt, bad)
        assert caught.value.violations[0].field == field
    assert await rt.store.count(PATTERNS) == 0


async def test_success_pattern_becomes_a_searchable_learned_pattern(rt: PatternsRuntime) -> None:
    kwargs = {
        "task_id": "task-42",
        "spec_id": "spec-1",
        "description": "Paginated list endpoint with cursor tokens",
        "code": "async def list_items(cursor: str | None = None):\n    ...\n",
        "language": "python",
        "framework": "fastapi",
        "category": "api",
        "validation_score": 0.95,
    }
    stored = await learning.store_success_pattern(rt, request_id="s-1", **kwargs)  # type: ignore[arg-type]
    assert stored.source == "learned" and stored.name.startswith("learned-paginated-list-endpoint")
    assert stored.usage_count == 1 and stored.success_rate == 1.0
    assert stored.production_score == pytest.approx(0.4 + 0.6 * 0.95)
    again = await learning.store_success_pattern(rt, request_id="s-1", **kwargs)  # type: ignore[arg-type]
    assert again == stored
    assert await rt.store.count(PATTERNS) == 1 and await rt.store.count(SUCCESSES) == 1
    [top] = await search_patterns(rt, SearchQuery(query="cursor pagination for a list API", top_k=1))
    assert top.pattern.id == stored.id
    # A failure of a learned pattern is reflected in success_patterns too.
    await learning.record_outcome(rt, stored.id, "task-43", False, 0.1)
    [success] = (await rt.store.get(SUCCESSES, [stored.id])).values()
    assert success["usage_count"] == 2 and success["success_rate"] == 0.5
    with pytest.raises(InvalidArgument) as caught:
        await learning.store_success_pattern(rt, **(kwargs | {"language": ""}))  # type: ignore[arg-type]
    assert caught.value.violations[0].field == "language"


async def test_failures_are_searchable_by_similarity(rt: PatternsRuntime) -> None:
    lessons = [
        Failure(
            "t1",
            "Used a sync psycopg connection in an async handler",
            "event loop blocked, timeouts",
            "Use psycopg AsyncConnection and a pool in async code",
            "database",
        ),
        Failure(
            "t2",
            "Stored the JWT secret in the repository",
            "secret leaked in git history",
            "Read secrets from environment variables, never commit them",
            "security",
        ),
        Failure(
            "t3",
            "Grid layout without media queries",
            "sidebar overflows on phones",
            "Add a single-column breakpoint",
            "project",
        ),
    ]
    for i, failure in enumerate(lessons):
        await learning.store_failure(rt, failure, f"f-{i}")
    again = await learning.store_failure(
        rt, Failure("t2", lessons[1].attempted, lessons[1].error, lessons[1].lesson, "security"), "f-1"
    )
    assert again.id == lessons[1].id
    assert await rt.store.count(FAILURES) == 3
    found = await search_failures(rt, "where should the token signing key be kept", 3, 0.0)
    assert found[0][0].task_id == "t2" and found[0][0].lesson.startswith("Read secrets")
    assert found[0][1] >= found[1][1]
    blocked = await search_failures(rt, "database calls freeze the async server", 1, 0.0)
    assert blocked[0][0].task_id == "t1"
    with pytest.raises(InvalidArgument) as caught:
        await learning.store_failure(rt, Failure("t4", "x", "", "lesson"))
    assert caught.value.violations[0].field == "failure.error"
    assert await rt.store.count(FAILURES) == 3
