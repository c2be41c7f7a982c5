"""Learning queries over real gRPC and PostgreSQL: estimate correction, scope creep, slow
agents and similar failures (the pattern store down, then a real one)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import insights_pb2 as ipb
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.insights import scenario as sc
from tests.insights.conftest import Served


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


@pytest.fixture
async def state(served: Served) -> sc.Scenario:
    return await sc.build(served)


# --- estimate correction ---------------------------------------------------------------------


async def insert_estimates(served: Served, rows: list[tuple[str, int, float, int]]) -> None:
    """(kind, planned effort, actual seconds, age in days) each."""
    async with await served.connect() as conn:
        for kind, effort, seconds, days in rows:
            await conn.execute(
                """INSERT INTO orchestrator.estimates (task_id, spec_id, kind, planned_effort, actual_seconds,
                       created_at) VALUES (%s, %s, %s, %s, %s, now() - make_interval(days => %s))""",
                (str(uuid.uuid4()), str(uuid.uuid4()), kind, effort, seconds, days),
            )


async def test_estimate_correction_per_kind(served: Served) -> None:
    # Seconds per effort unit: API 60, 90, 30 (median 60); MODEL 30, 20 (median 25) and, 200 days
    # ago, 3000; a zero-effort estimate says nothing and is skipped.
    await insert_estimates(
        served,
        [
            ("API", 2, 120.0, 1),
            ("API", 1, 90.0, 2),
            ("API", 3, 90.0, 3),
            ("MODEL", 1, 30.0, 1),
            ("MODEL", 2, 40.0, 5),
            ("MODEL", 1, 3000.0, 200),
            ("DOCS", 0, 500.0, 1),
        ],
    )
    recent = await served.insights.GetEstimateCorrection(
        ipb.GetEstimateCorrectionRequest(since=ts(datetime.now(UTC) - timedelta(days=90)))
    )
    # Baseline: median of 60, 90, 30, 30, 20 = 30.
    assert (recent.baseline_seconds_per_effort, recent.samples) == (30.0, 5)
    got = {
        c.TaskKind.Name(k.kind): (k.samples, k.median_seconds_per_effort, k.correction_factor)
        for k in recent.corrections
    }
    assert got == {"TASK_KIND_API": (3, 60.0, 2.0), "TASK_KIND_MODEL": (2, 25.0, 0.8333)}

    everything = await served.insights.GetEstimateCorrection(ipb.GetEstimateCorrectionRequest())
    # All six: 20, 30, 30, 60, 90, 3000 -> baseline 45; MODEL median 30.
    assert (everything.baseline_seconds_per_effort, everything.samples) == (45.0, 6)
    got = {
        c.TaskKind.Name(k.kind): (k.samples, k.median_seconds_per_effort, k.correction_factor)
        for k in everything.corrections
    }
    assert got == {"TASK_KIND_API": (3, 60.0, 1.3333), "TASK_KIND_MODEL": (3, 30.0, 0.6667)}

    only_api = await served.insights.GetEstimateCorrection(
        ipb.GetEstimateCorrectionRequest(kind=c.TASK_KIND_API)
    )
    assert [(k.kind, k.correction_factor) for k in only_api.corrections] == [(c.TASK_KIND_API, 1.3333)]
    assert only_api.baseline_seconds_per_effort == 45.0  # still against every kind

    none = await served.insights.GetEstimateCorrection(ipb.GetEstimateCorrectionRequest(kind=c.TASK_KIND_UI))
    assert list(none.corrections) == []


async def test_no_estimates_yet(served: Served) -> None:
    got = await served.insights.GetEstimateCorrection(ipb.GetEstimateCorrectionRequest())
    assert (list(got.corrections), got.baseline_seconds_per_effort, got.samples) == ([], 0.0, 0)


# --- scope creep -----------------------------------------------------------------------------


async def test_scope_creep_of_the_scenario(served: Served, state: sc.Scenario) -> None:
    got = await served.insights.GetScopeCreep(ipb.GetScopeCreepRequest(spec_id=state.spec_id))
    assert (got.planned_tasks, got.current_tasks, got.added_tasks) == (45, 45, 0)
    assert (got.regenerated_tasks, got.extra_attempts, got.actual_tasks) == (2, 2, 47)
    assert (got.ratio, got.threshold, got.creeping) == (1.0444, 1.5, False)


async def test_scope_creep_with_added_tasks_and_retries(served: Served) -> None:
    created = await served.orchestrator.CreateSpec(pb.CreateSpecRequest(plan_json=sc.plans.diamond()))
    spec_id = created.spec.id
    ids = {k: t.id for k, t in (await sc.tasks_by_key(served, spec_id)).items()}
    async with await served.connect() as conn:
        group = (
            await (
                await conn.execute(
                    "SELECT parent_id::text FROM orchestrator.tasks WHERE id = %s", (ids["a"],)
                )
            ).fetchone()
        )[0]
        for n in range(3):  # regenerated work: three tasks added after ingestion
            await conn.execute(
                """INSERT INTO orchestrator.tasks (id, spec_id, parent_id, key, task_type, name, phase, position)
                   VALUES (%s, %s, %s, %s, 'TASK', 'Added', 3, 100 + %s)""",
                (str(uuid.uuid4()), spec_id, group, f"added-{n}", n),
            )
        await conn.execute("UPDATE orchestrator.tasks SET attempts = 3 WHERE id = %s", (ids["b"],))
        await conn.execute("UPDATE orchestrator.tasks SET attempts = 1 WHERE id = %s", (ids["a"],))
    got = await served.insights.GetScopeCreep(ipb.GetScopeCreepRequest(spec_id=spec_id))
    assert (got.planned_tasks, got.current_tasks, got.added_tasks) == (4, 7, 3)
    assert (got.regenerated_tasks, got.extra_attempts, got.actual_tasks) == (1, 2, 9)
    assert (got.ratio, got.creeping) == (2.25, True)


# --- slowest agents --------------------------------------------------------------------------


async def test_slowest_agents_by_percentiles(served: Served, state: sc.Scenario) -> None:
    got = await served.insights.GetSlowestAgents(ipb.GetSlowestAgentsRequest())
    # coder-1: 100, 200, 300, 400, 500 and 10000 ms (other spec): p95 = 500 + 0.75 * 9500.
    assert [a.agent for a in got.agents] == ["coder-1", "coder-2", "planner"]
    c1, c2, planner = got.agents
    assert (c1.actions, c1.failures, c1.failure_rate) == (6, 1, 0.1667)
    assert (c1.mean_ms, c1.p50_ms, c1.p95_ms, c1.max_ms) == (1916.667, 350.0, 7625.0, 10000.0)
    assert (c1.tokens_in, c1.tokens_out, c1.cost_usd) == (60, 30, 0.006)
    assert (c2.p50_ms, c2.p95_ms, c2.failure_rate) == (2000.0, 2900.0, 0.0)
    assert (planner.p50_ms, planner.p95_ms) == (50.0, 50.0)

    one_spec = await served.insights.GetSlowestAgents(ipb.GetSlowestAgentsRequest(spec_id=state.spec_id))
    assert [(a.agent, a.p95_ms) for a in one_spec.agents] == [
        ("coder-2", 2900.0),
        ("coder-1", 480.0),
        ("planner", 50.0),
    ]

    top = await served.insights.GetSlowestAgents(ipb.GetSlowestAgentsRequest(limit=1))
    assert [a.agent for a in top.agents] == ["coder-1"]

    async with await served.connect() as conn:
        await sc.insert_log(conn, state.spec_id, "legacy", 99999, at=datetime.now(UTC) - timedelta(days=30))
    everything = await served.insights.GetSlowestAgents(ipb.GetSlowestAgentsRequest())
    assert everything.agents[0].agent == "legacy"
    recent = await served.insights.GetSlowestAgents(
        ipb.GetSlowestAgentsRequest(since=ts(datetime.now(UTC) - timedelta(days=1)))
    )
    assert [a.agent for a in recent.agents] == ["coder-1", "coder-2", "planner"]


# --- similar failures ------------------------------------------------------------------------


async def test_similar_failures_from_attempts_when_the_pattern_store_is_down(
    served: Served, state: sc.Scenario
) -> None:
    got = await served.insights.FindSimilarFailures(ipb.FindSimilarFailuresRequest(text="connection refused"))
    assert got.pattern_store_degraded and list(got.failures) == []
    assert [(f.error, f.score) for f in got.attempt_failures] == [(sc.REFUSED_2, 1.0), (sc.REFUSED_1, 1.0)]
    first = got.attempt_failures[0]
    assert (first.task_id, first.task_key, first.spec_id) == (
        state.ids[sc.DATA_MODEL],
        sc.DATA_MODEL,
        state.spec_id,
    )
    assert (first.execution_id, first.attempt, first.agent, first.generator) == (
        state.executions[1],
        2,
        "coder-1",
        "offline",
    )
    assert first.failed_at.ToSeconds() > 0

    # No substring match: shared words rank the two refusals, below an exact match.
    worded = await served.insights.FindSimilarFailures(
        ipb.FindSimilarFailuresRequest(text="the database refused our connection", top_k=10)
    )
    assert {f.error for f in worded.attempt_failures} == {sc.REFUSED_1, sc.REFUSED_2}
    assert all(0.0 < f.score < 1.0 for f in worded.attempt_failures)

    imports = await served.insights.FindSimilarFailures(
        ipb.FindSimilarFailuresRequest(text="cannot import Settings")
    )
    assert [f.error for f in imports.attempt_failures] == [sc.IMPORT_ERROR]
    one = await served.insights.FindSimilarFailures(ipb.FindSimilarFailuresRequest(text="refused", top_k=1))
    assert len(one.attempt_failures) == 1
    nothing = await served.insights.FindSimilarFailures(ipb.FindSimilarFailuresRequest(text="zebra the and"))
    assert list(nothing.attempt_failures) == []
    wild = await served.insights.FindSimilarFailures(ipb.FindSimilarFailuresRequest(text="100%_ 'x' & | !"))
    assert list(wild.attempt_failures) == []


async def test_similar_failures_from_a_real_pattern_store(database_url: str, tmp_path: Path) -> None:
    from devmatrix.cli.mesh import free_port
    from devmatrix.runtime.channels import open_channel
    from devmatrix.runtime.config import Settings
    from devmatrix.runtime.server import start_server
    from devmatrix.v1 import patterns_pb2, patterns_pb2_grpc
    from services.patterns.app import make_build
    from tests.insights.conftest import serve

    library = tmp_path / "library"
    library.mkdir()
    port = free_port()
    settings = Settings(data_dir=tmp_path / "patterns", bind_host="127.0.0.1")
    patterns = await start_server(make_build(library), settings, "patterns", port=port, metrics_port=0)
    channel = open_channel(patterns.address, 30.0)
    try:
        stub = patterns_pb2_grpc.PatternsServiceStub(channel)
        await stub.StoreFailure(
            patterns_pb2.StoreFailureRequest(
                failure=patterns_pb2.Failure(
                    attempted="run the migrations at container start",
                    error="connection refused: the database was not accepting connections yet",
                    lesson="wait for the database health check before migrating",
                    category="database",
                )
            )
        )
        async for served in serve(database_url, tmp_path / "orch", addrs={"patterns": patterns.address}):
            await sc.build(served)
            got = await served.insights.FindSimilarFailures(
                ipb.FindSimilarFailuresRequest(text="database connection refused during migration", top_k=3)
            )
            assert not got.pattern_store_degraded
            assert [m.failure.lesson for m in got.failures] == [
                "wait for the database health check before migrating"
            ]
            assert 0.3 < got.failures[0].similarity <= 1.0
            assert {f.error for f in got.attempt_failures} == {sc.REFUSED_1, sc.REFUSED_2}
    finally:
        await channel.close()
        await patterns.stop(0)
