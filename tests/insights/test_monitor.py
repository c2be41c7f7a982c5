"""ProgressMonitor over real gRPC and PostgreSQL: exact figures of a spec mid-execution."""

from __future__ import annotations

import math

import pytest

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import insights_pb2 as ipb
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.insights import scenario as sc
from tests.insights.conftest import Served


@pytest.fixture
async def state(served: Served) -> sc.Scenario:
    return await sc.build(served)


async def test_spec_progress_counts_and_eta(served: Served, state: sc.Scenario) -> None:
    got = (await served.insights.GetSpecProgress(ipb.GetSpecProgressRequest(spec_id=state.spec_id))).progress
    assert got.spec_id == state.spec_id
    assert got.spec_status == pb.SPEC_STATUS_ANALYZED
    o = got.overall
    assert (o.total, o.completed, o.failed, o.needs_review, o.running) == (45, 3, 1, 1, 0)
    assert o.pending + o.ready + o.blocked == 40
    assert o.percent_complete == 6.7  # 3 of 45
    assert [w.wave for w in got.waves] == list(range(10))
    assert [w.counts.total for w in got.waves] == sc.WAVE_SIZES
    assert got.waves[0].counts.completed == 2 and got.waves[0].counts.percent_complete == 100.0
    w1 = got.waves[1].counts
    assert (w1.completed, w1.failed, w1.needs_review) == (1, 1, 1)
    assert got.current_wave == 1
    assert [p.phase for p in got.phases] == [1, 2, 3, 4, 5]
    assert got.phases[0].name == "Planning & Analysis" and got.phases[0].counts.completed == 2
    assert got.phases[1].counts.total == 3

    # Measured: requirements 10 + 20 s and constraints 90 s (structure has no attempt) -> 60 s.
    # Remaining waves 2..9 hold 1, 2, 6, 13, 9, 5, 3, 1 tasks, run 4 at a time (E2's concurrency).
    eta = got.eta
    rounds = sum(math.ceil(n / 4) for n in sc.WAVE_SIZES[2:])
    assert rounds == 15
    assert (eta.known, eta.measured_tasks, eta.remaining_tasks, eta.concurrency) == (True, 2, 40, 4)
    assert eta.average_task_seconds == 60.0
    assert eta.seconds == 900.0


async def test_eta_is_unknown_without_measured_tasks(served: Served) -> None:
    created = await served.orchestrator.CreateSpec(pb.CreateSpecRequest(markdown=sc.EXAMPLE.read_text()))
    got = (
        await served.insights.GetSpecProgress(ipb.GetSpecProgressRequest(spec_id=created.spec.id))
    ).progress
    assert got.overall.total == 45 and got.overall.ready == 2
    # Never analyzed: analyzed first, the ETA needs the waves.
    assert [w.counts.total for w in got.waves] == sc.WAVE_SIZES
    assert (got.eta.known, got.eta.seconds, got.eta.remaining_tasks, got.eta.concurrency) == (
        False,
        0.0,
        45,
        1,
    )


async def test_wave_status_lists_each_task_with_agent_attempts_and_duration(
    served: Served, state: sc.Scenario
) -> None:
    critical = set(state.analysis.critical_path)
    w0 = await served.insights.GetWaveStatus(ipb.GetWaveStatusRequest(spec_id=state.spec_id, wave=0))
    assert (w0.spec_id, w0.wave, w0.wave_count) == (state.spec_id, 0, 10)
    assert (w0.counts.total, w0.counts.completed, w0.counts.percent_complete) == (2, 2, 100.0)
    rows = {t.key: t for t in w0.tasks}
    assert list(rows) == [sc.REQUIREMENTS, sc.CONSTRAINTS]  # hierarchy order
    req = rows[sc.REQUIREMENTS]
    assert (req.status, req.agent, req.attempts, req.duration_seconds) == (
        c.TASK_STATUS_COMPLETED,
        "coder-1",
        2,
        30.0,
    )
    assert (req.task_id, req.wave, req.phase, req.effort) == (state.ids[sc.REQUIREMENTS], 0, 1, 2)
    assert req.kind == c.TASK_KIND_GENERIC and req.name
    con = rows[sc.CONSTRAINTS]
    assert (con.agent, con.attempts, con.duration_seconds) == ("coder-2", 1, 90.0)
    for task in w0.tasks:
        assert task.on_critical_path == (task.task_id in critical)
        assert list(task.depends_on) == []

    w1 = await served.insights.GetWaveStatus(ipb.GetWaveStatusRequest(spec_id=state.spec_id, wave=1))
    rows = {t.key: t for t in w1.tasks}
    assert (w1.counts.completed, w1.counts.failed, w1.counts.needs_review) == (1, 1, 1)
    s, d, a = rows[sc.STRUCTURE], rows[sc.DATA_MODEL], rows[sc.API_CONTRACT]
    assert (s.status, s.attempts, s.duration_seconds) == (c.TASK_STATUS_COMPLETED, 0, 0.0)
    assert (d.status, d.agent, d.attempts, d.duration_seconds) == (c.TASK_STATUS_FAILED, "coder-1", 2, 60.0)
    assert (a.status, a.attempts, a.duration_seconds, a.confidence) == (
        c.TASK_STATUS_NEEDS_REVIEW,
        1,
        50.0,
        0.4,
    )
    assert sorted(d.depends_on) == sorted([state.ids[sc.REQUIREMENTS], state.ids[sc.CONSTRAINTS]])

    w5 = await served.insights.GetWaveStatus(ipb.GetWaveStatusRequest(spec_id=state.spec_id, wave=5))
    # Waiting on the failed data-model task: pending or blocked, as the state machine decides.
    assert len(w5.tasks) == 13 and w5.counts.pending + w5.counts.blocked == 13
    assert all(t.attempts == 0 and t.agent == "" and t.duration_seconds == 0.0 for t in w5.tasks)


async def test_wave_status_analyzes_a_spec_never_analyzed(served: Served) -> None:
    created = await served.orchestrator.CreateSpec(pb.CreateSpecRequest(markdown=sc.EXAMPLE.read_text()))
    w = await served.insights.GetWaveStatus(ipb.GetWaveStatusRequest(spec_id=created.spec.id, wave=5))
    assert (w.wave_count, len(w.tasks)) == (10, 13)
    spec = await served.orchestrator.GetSpec(pb.GetSpecRequest(spec_id=created.spec.id))
    assert spec.spec.status == pb.SPEC_STATUS_ANALYZED


async def test_agent_workload(served: Served, state: sc.Scenario) -> None:
    got = await served.insights.GetAgentWorkload(ipb.GetAgentWorkloadRequest(spec_id=state.spec_id))
    assert got.spec_id == state.spec_id
    agents = {a.agent: a for a in got.agents}
    assert list(agents) == ["coder-1", "coder-2", "planner"]
    c1, c2, planner = agents["coder-1"], agents["coder-2"], agents["planner"]
    assert (c1.assigned, c1.running, c1.completed, c1.failed, c1.needs_review) == (3, 0, 2, 1, 0)
    assert (c1.actions, c1.failed_actions, c1.mean_duration_ms) == (5, 1, 300.0)
    assert (c1.tokens_in, c1.tokens_out, c1.cost_usd) == (50, 25, 0.005)
    assert (c2.assigned, c2.completed, c2.needs_review, c2.actions, c2.mean_duration_ms) == (
        2,
        1,
        1,
        2,
        2000.0,
    )
    assert (planner.assigned, planner.actions, planner.mean_duration_ms) == (0, 1, 50.0)

    other = await served.insights.GetAgentWorkload(ipb.GetAgentWorkloadRequest(spec_id=state.other_spec_id))
    [only] = other.agents
    assert (only.agent, only.assigned, only.running, only.actions, only.mean_duration_ms) == (
        "coder-1",
        1,
        1,
        1,
        10000.0,
    )


async def test_dashboard_has_everything_in_one_call(served: Served, state: sc.Scenario) -> None:
    d = await served.insights.GetDashboard(ipb.GetDashboardRequest(spec_id=state.spec_id))
    assert d.spec.id == state.spec_id and d.spec.title == "Task API"
    assert d.progress.overall.completed == 3 and d.progress.eta.seconds == 900.0
    assert [w.number for w in d.waves] == list(range(10))
    assert [len(w.tasks) for w in d.waves] == sc.WAVE_SIZES
    assert [w.total_effort for w in d.waves] == [w.total_effort for w in state.analysis.waves]
    assert [sorted(t.task_id for t in w.tasks) for w in d.waves] == [
        sorted(w.task_ids) for w in state.analysis.waves
    ]
    assert d.waves[1].counts.failed == 1
    tree = await sc.tasks_by_key(served, state.spec_id)
    expected_edges = sorted((t.id, dep) for t in tree.values() for dep in t.depends_on)
    assert sorted((e.task_id, e.depends_on_id) for e in d.edges) == expected_edges
    assert list(d.critical_path) == list(state.analysis.critical_path)
    assert d.critical_path_effort == state.analysis.critical_path_effort == 24
    on_path = {t.task_id for w in d.waves for t in w.tasks if t.on_critical_path}
    assert on_path == set(state.analysis.critical_path)
    assert [a.agent for a in d.agents] == ["coder-1", "coder-2", "planner"]
    assert d.review_queue_size == 1
    assert d.retries == 2  # requirements and data-model each needed a second attempt
    e = d.latest_execution
    assert (e.id, e.status, e.concurrency) == (state.executions[1], pb.EXECUTION_STATUS_FAILED, 4)
    assert (e.waves_executed, e.tasks_completed, e.tasks_failed, e.tasks_in_review) == (2, 3, 1, 1)
    assert (e.wall_seconds, e.sequential_seconds) == (120.5, 230.0)
    assert (e.attempts, e.tokens_in, e.tokens_out, e.cost_usd) == (4, 400, 200, 0.04)
    assert e.finished_at.ToSeconds() - e.started_at.ToSeconds() == 600
    assert (d.tokens_in, d.tokens_out, d.cost_usd) == (600, 300, 0.06)
    assert d.generated_at.ToSeconds() > 0


async def test_dashboard_of_a_fresh_spec(served: Served) -> None:
    created = await served.orchestrator.CreateSpec(pb.CreateSpecRequest(plan_json=sc.plans.diamond()))
    d = await served.insights.GetDashboard(ipb.GetDashboardRequest(spec_id=created.spec.id))
    assert [[t.key for t in w.tasks] for w in d.waves] == [["a"], ["b", "c"], ["d"]]
    assert [w.total_effort for w in d.waves] == [1, 7, 3]
    ids = {t.key: t.task_id for w in d.waves for t in w.tasks}
    assert [ids_by for ids_by in d.critical_path] == [ids["a"], ids["b"], ids["d"]]
    assert d.critical_path_effort == 9
    assert len(d.edges) == 4
    assert not d.HasField("latest_execution")
    assert (d.review_queue_size, d.retries, d.tokens_in, d.cost_usd, list(d.agents)) == (0, 0, 0, 0.0, [])
    assert d.progress.eta.known is False
