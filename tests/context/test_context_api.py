"""GetContext, CompareWithFullMarkdown and InvalidateContext over real gRPC, with the
orchestrator on a real PostgreSQL and patterns/skills served as fakes or placeholders."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from devmatrix.stores.tokens import TOKEN_COUNTER, count_tokens
from devmatrix.v1 import context_pb2 as cpb
from devmatrix.v1 import context_pb2_grpc
from tests.context.conftest import StartContext
from tests.context.fakes import FakePatterns, FakeSkills
from tests.context.helpers import TASK_API, complete, create_spec, richest
from tests.fixtures.redis import _free_port
from tests.integration import plans
from tests.integration.rpc import field_violations

MINIMAL, STANDARD, EXTENDED = (
    cpb.CONTEXT_LEVEL_MINIMAL,
    cpb.CONTEXT_LEVEL_STANDARD,
    cpb.CONTEXT_LEVEL_EXTENDED,
)
KB = 1024
# (lower, upper) bytes: the "about 2-3 KB, 5-8 KB, 10-15 KB".
RANGES = {MINIMAL: (1.5 * KB, 3 * KB), STANDARD: (5 * KB, 8 * KB), EXTENDED: (10 * KB, 15 * KB)}


async def get(stub: context_pb2_grpc.ContextServiceStub, task_id: str, level: int = 0, **kw: object):
    return await stub.GetContext(cpb.GetContextRequest(task_id=task_id, level=level, **kw))


def check_consistent(r: cpb.GetContextResponse) -> None:
    assert r.text == "".join(s.content for s in r.sections)
    assert r.total_bytes == len(r.text.encode()) == sum(s.bytes for s in r.sections)
    for s in r.sections:
        assert s.bytes == len(s.content.encode())
        assert s.tokens == count_tokens(s.content)
    assert r.token_count == count_tokens(r.text) == sum(s.tokens for s in r.sections)
    assert r.token_counter == TOKEN_COUNTER
    assert {s.name for s in r.sections if s.trimmed} == set(r.trimmed_sections)
    assert {s.name for s in r.sections if s.degraded} == set(r.degraded_sections)
    assert not {s.name for s in r.sections} & set(r.dropped_sections)


async def test_levels_fit_their_ranges_for_the_example_spec(start_context: StartContext) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills())
    _, tasks = await create_spec(mesh.orchestrator, markdown=TASK_API.read_text())
    sample = [richest(tasks), *list(tasks.values())[::7]]
    for task in sample:
        sizes = {}
        for level, (low, high) in RANGES.items():
            r = await get(mesh.stub, task.id, level)
            check_consistent(r)
            assert r.level == level
            assert r.budget_bytes == high
            assert low <= r.total_bytes <= high, (task.key, level, r.total_bytes)
            assert not r.degraded_sections
            names = [s.name for s in r.sections]
            assert names[:2] == ["task", "acceptance_criteria"]
            for criterion in task.acceptance_criteria:
                assert criterion in r.text
            sizes[level] = r.total_bytes
        assert sizes[MINIMAL] < sizes[STANDARD] < sizes[EXTENDED]
    standard = await get(mesh.stub, richest(tasks).id)  # UNSPECIFIED is standard
    assert standard.level == STANDARD
    assert {"parent_goal", "spec", "skill_guidelines", "patterns", "dependencies"} <= {
        s.name for s in standard.sections
    }
    minimal = await get(mesh.stub, richest(tasks).id, MINIMAL)
    assert {s.name for s in minimal.sections} == {
        "task",
        "acceptance_criteria",
        "dependencies",
        "required_skills",
        "patterns",
    }


async def test_task_and_criteria_are_never_cut(start_context: StartContext) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills())
    criteria = [
        f"Criterion {i}: " + "the endpoint validates every field and answers 422 " * 3 for i in range(30)
    ]
    _, tasks = await create_spec(
        mesh.orchestrator,
        plan_json=plans.plan(
            [
                {"key": "P", "type": "PHASE", "name": "Implementation", "phase": 3},
                {"key": "G", "type": "TASK_GROUP", "parent": "P", "name": "Core"},
                {"key": "a", "type": "TASK", "parent": "G", "name": "Base", "skills": ["backend-api"]},
                {
                    "key": "big",
                    "type": "TASK",
                    "parent": "G",
                    "name": "Endpoint with many rules",
                    "description": "A long description. " * 40,
                    "acceptance_criteria": criteria,
                    "skills": ["backend-api"],
                    "depends_on": ["a"],
                },
            ]
        ),
    )
    r = await get(mesh.stub, tasks["big"].id, MINIMAL)
    check_consistent(r)
    assert r.total_bytes > r.budget_bytes  # the never-cut sections alone exceed it
    by_name = {s.name: s for s in r.sections}
    assert not by_name["task"].trimmed and not by_name["acceptance_criteria"].trimmed
    assert by_name["task"].priority == by_name["acceptance_criteria"].priority == 0
    for criterion in criteria:
        assert criterion.strip() in r.text
    assert "patterns" in r.dropped_sections
    assert "Base" in r.text  # dependencies rank above patterns


async def test_cache_hit_and_fresh_context_after_a_dependency_changes(start_context: StartContext) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills())
    _, tasks = await create_spec(mesh.orchestrator, plan_json=plans.diamond())
    d = tasks["d"]
    first = await get(mesh.stub, d.id)
    assert not first.cache_hit
    second = await get(mesh.stub, d.id)
    assert second.cache_hit
    assert second.text == first.text
    assert "[ ] Models" in first.text
    assert (await get(mesh.stub, d.id, bypass_cache=True)).cache_hit is False

    await complete(mesh.orchestrator, tasks["a"].id)
    await complete(mesh.orchestrator, tasks["b"].id)
    fresh = await get(mesh.stub, d.id)
    assert not fresh.cache_hit
    assert "[x] Models" in fresh.text and "[ ] Models" not in fresh.text
    assert (await get(mesh.stub, d.id)).cache_hit

    invalidated = await mesh.stub.InvalidateContext(cpb.InvalidateContextRequest(task_id=d.id))
    assert invalidated.invalidated >= 1
    assert not (await get(mesh.stub, d.id)).cache_hit


async def test_cache_metrics(start_context: StartContext) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills())
    _, tasks = await create_spec(mesh.orchestrator, plan_json=plans.diamond())
    for _ in range(3):
        await get(mesh.stub, tasks["a"].id, MINIMAL)
    registry = mesh.server.app.state.metrics.cache_requests  # type: ignore[union-attr]
    assert registry.labels("miss")._value.get() == 1
    assert registry.labels("hit")._value.get() == 2


async def test_unimplemented_sources_degrade(start_context: StartContext) -> None:
    mesh = await start_context()  # patterns and skills answer UNIMPLEMENTED
    _, tasks = await create_spec(mesh.orchestrator, plan_json=plans.diamond())
    r = await get(mesh.stub, tasks["d"].id, STANDARD)
    check_consistent(r)
    assert set(r.degraded_sections) == {"patterns", "skill_guidelines"}
    degraded = {s.name: s for s in r.sections if s.degraded}
    assert all(s.content == "" and s.bytes == 0 for s in degraded.values())
    assert "API" in r.text
    minimal = await get(mesh.stub, tasks["d"].id, MINIMAL)
    assert list(minimal.degraded_sections) == ["patterns"]
    counter = mesh.server.app.state.metrics.degraded  # type: ignore[union-attr]
    assert counter.labels("patterns")._value.get() == 2
    assert counter.labels("skill_guidelines")._value.get() == 1


async def test_slow_patterns_do_not_break_the_deadline(start_context: StartContext) -> None:
    slow = FakePatterns(delay=5.0)
    mesh = await start_context(slow, FakeSkills(delay=5.0))
    _, tasks = await create_spec(mesh.orchestrator, plan_json=plans.diamond())
    started = time.monotonic()
    r = await mesh.stub.GetContext(cpb.GetContextRequest(task_id=tasks["d"].id), timeout=2.0)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert set(r.degraded_sections) == {"patterns", "skill_guidelines"}
    assert "acceptance_criteria" in {s.name for s in r.sections}
    # The breaker opens after repeated failures: later calls do not even wait for patterns.
    for key in ("a", "b", "c"):
        await mesh.stub.GetContext(
            cpb.GetContextRequest(task_id=tasks[key].id, bypass_cache=True), timeout=2.0
        )
    calls = slow.calls
    started = time.monotonic()
    await mesh.stub.GetContext(cpb.GetContextRequest(task_id=tasks["d"].id, level=EXTENDED), timeout=2.0)
    assert time.monotonic() - started < 0.5
    assert slow.calls == calls
    breaker = await mesh.server.app.state.sources.breakers.get_breaker("patterns")  # type: ignore[union-attr]
    assert breaker.context.state == "opened"


async def test_bad_input_and_unknown_task(start_context: StartContext) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills())
    _, tasks = await create_spec(mesh.orchestrator, plan_json=plans.diamond())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get(mesh.stub, "00000000-0000-4000-8000-000000000000")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get(mesh.stub, "not-a-uuid")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "task_id" in field_violations(caught.value)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get(mesh.stub, tasks["a"].id, 42)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "level" in field_violations(caught.value)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mesh.stub.CompareWithFullMarkdown(
            cpb.CompareWithFullMarkdownRequest(task_id=tasks["a"].id, level=7)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_orchestrator_down_is_unavailable(start_context: StartContext) -> None:
    mesh = await start_context(orchestrator_addr=f"127.0.0.1:{_free_port()}")
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mesh.stub.GetContext(
            cpb.GetContextRequest(task_id="00000000-0000-4000-8000-000000000000"), timeout=3.0
        )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "orchestrator" in (caught.value.details() or "")
    assert time.monotonic() - started < 3.0


async def test_compare_shows_a_reduction_with_every_fact(start_context: StartContext) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills())
    _, tasks = await create_spec(mesh.orchestrator, markdown=TASK_API.read_text())
    task = richest(tasks)
    assert task.depends_on and task.acceptance_criteria and task.required_skills
    for level in (MINIMAL, STANDARD, EXTENDED):
        r = await mesh.stub.CompareWithFullMarkdown(
            cpb.CompareWithFullMarkdownRequest(task_id=task.id, level=level)
        )
        assert r.task_id == task.id and r.task_name == task.name and r.level == level
        assert r.full_markdown_bytes > r.context_bytes > 0
        assert r.full_markdown_tokens > r.context_tokens > 0
        assert r.reduction == pytest.approx(1 - r.context_tokens / r.full_markdown_tokens)
        assert r.byte_reduction == pytest.approx(1 - r.context_bytes / r.full_markdown_bytes)
        assert r.reduction > 0.3
        kinds = {f.kind for f in r.facts}
        assert kinds == {"task_name", "acceptance_criterion", "dependency", "required_skill"}
        assert all(f.in_context and f.in_full_markdown for f in r.facts), [
            f for f in r.facts if not f.in_context
        ]
        assert r.all_facts_present
        context = await get(mesh.stub, task.id, level)
        assert context.total_bytes == r.context_bytes


async def test_concurrent_calls_agree(start_context: StartContext) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills())
    _, tasks = await create_spec(mesh.orchestrator, plan_json=plans.diamond())
    results = await asyncio.gather(*(get(mesh.stub, tasks["d"].id, bypass_cache=True) for _ in range(10)))
    assert len({r.text for r in results}) == 1
    cached = await get(mesh.stub, tasks["d"].id)
    assert cached.text == results[0].text


async def test_redis_backed_cache(start_context: StartContext, redis_url: str) -> None:
    mesh = await start_context(FakePatterns(), FakeSkills(), redis_url=redis_url)
    assert mesh.server.app.state.cache.backend == "redis"  # type: ignore[union-attr]
    _, tasks = await create_spec(mesh.orchestrator, plan_json=plans.diamond())
    first = await get(mesh.stub, tasks["d"].id, EXTENDED)
    second = await get(mesh.stub, tasks["d"].id, EXTENDED)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.text == first.text
    await complete(mesh.orchestrator, tasks["a"].id)
    assert not (await get(mesh.stub, tasks["d"].id, EXTENDED)).cache_hit
