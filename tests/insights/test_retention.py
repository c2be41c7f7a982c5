"""Retention deletes exactly the agent logs past the retention and keeps the learning data;
the periodic job does it on its own; and the recording functions the pipeline calls."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from devmatrix.runtime.errors import InvalidArgument, NotFound
from devmatrix.v1 import insights_pb2 as ipb
from services.orchestrator.insights import recording
from services.orchestrator.insights.retention import LOCK_KEY
from tests.insights import scenario as sc
from tests.insights.conftest import Served, serve


async def count(served: Served, table: str) -> int:
    async with await served.connect() as conn:
        row = await (await conn.execute(f"SELECT count(*) FROM orchestrator.{table}")).fetchone()
    return int(row[0])


async def aged_logs(served: Served, spec_id: str, ages_in_days: list[float]) -> None:
    now = datetime.now(UTC)
    async with await served.connect() as conn:
        for days in ages_in_days:
            await sc.insert_log(conn, spec_id, "aged", 100, at=now - timedelta(days=days))


async def learning_rows(served: Served, spec_id: str, days_old: int) -> None:
    async with await served.connect() as conn:
        await conn.execute(
            """INSERT INTO orchestrator.estimates (task_id, spec_id, kind, planned_effort, actual_seconds, created_at)
               VALUES (%s, %s, 'API', 1, 60, now() - make_interval(days => %s))""",
            (str(uuid.uuid4()), spec_id, days_old),
        )
        await conn.execute(
            """INSERT INTO orchestrator.retrospectives (id, spec_id, summary, created_at)
               VALUES (%s, %s, '{"went_well": []}', now() - make_interval(days => %s))""",
            (str(uuid.uuid4()), spec_id, days_old),
        )


@pytest.fixture
async def state(served: Served) -> sc.Scenario:
    return await sc.build(served)


async def test_run_retention_deletes_exactly_the_old_logs(served: Served, state: sc.Scenario) -> None:
    await aged_logs(served, state.spec_id, [400, 100, 100, 90.5, 89.5, 30])
    await learning_rows(served, state.spec_id, 400)
    logs_before = await count(served, "agent_logs")
    assert logs_before == 9 + 6

    dry = await served.insights.RunRetention(ipb.RunRetentionRequest(dry_run=True))
    assert (dry.agent_logs_deleted, dry.dry_run, dry.retention_days, dry.skipped) == (4, True, 90, False)
    assert await count(served, "agent_logs") == logs_before

    done = await served.insights.RunRetention(ipb.RunRetentionRequest())
    assert (done.agent_logs_deleted, done.dry_run, done.retention_days) == (4, False, 90)
    cutoff = done.cutoff.ToDatetime(tzinfo=UTC)
    assert abs((datetime.now(UTC) - cutoff) - timedelta(days=90)) < timedelta(minutes=1)
    assert await count(served, "agent_logs") == logs_before - 4
    async with await served.connect() as conn:
        ages = await (
            await conn.execute(
                "SELECT round(extract(epoch FROM now() - created_at) / 86400) FROM orchestrator.agent_logs "
                "WHERE agent = 'aged' ORDER BY 1"
            )
        ).fetchall()
    assert [int(a[0]) for a in ages] == [30, 90]  # 89.5 rounds to 90
    # Learning data is kept forever.
    assert (await count(served, "estimates"), await count(served, "retrospectives")) == (1, 1)
    assert await count(served, "task_attempts") == 6

    again = await served.insights.RunRetention(ipb.RunRetentionRequest())
    assert again.agent_logs_deleted == 0
    shorter = await served.insights.RunRetention(ipb.RunRetentionRequest(retention_days=10))
    assert shorter.agent_logs_deleted == 2
    assert await count(served, "agent_logs") == 9
    registry = served.server.app.state.registry  # type: ignore[union-attr]
    assert registry.get_sample_value("devmatrix_agent_logs_deleted_total") == 6
    assert registry.get_sample_value("devmatrix_retention_runs_total", {"outcome": "dry_run"}) == 1


async def test_another_replica_running_retention_is_not_doubled(served: Served, state: sc.Scenario) -> None:
    await aged_logs(served, state.spec_id, [200])
    async with await psycopg.AsyncConnection.connect(served.database_url, autocommit=True) as other:
        await other.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        skipped = await served.insights.RunRetention(ipb.RunRetentionRequest())
        assert (skipped.skipped, skipped.agent_logs_deleted) == (True, 0)
        await other.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    done = await served.insights.RunRetention(ipb.RunRetentionRequest())
    assert (done.skipped, done.agent_logs_deleted) == (False, 1)


async def test_the_periodic_job_deletes_on_its_own(database_url: str, tmp_path: Path) -> None:
    async for served in serve(
        database_url, tmp_path, retention_interval_seconds=0.2, agent_log_retention_days=30
    ):
        state = await sc.build(served)
        await aged_logs(served, state.spec_id, [45, 31])
        for _ in range(100):
            if await count(served, "agent_logs") == 9:
                break
            await asyncio.sleep(0.1)
        assert await count(served, "agent_logs") == 9
        registry = served.server.app.state.registry  # type: ignore[union-attr]
        assert registry.get_sample_value("devmatrix_agent_logs_deleted_total") == 2
        assert registry.get_sample_value("devmatrix_retention_runs_total", {"outcome": "success"}) >= 1


# --- what the pipeline records ----------------------------------------------------------------


async def test_record_estimate_feeds_the_correction(served: Served, state: sc.Scenario) -> None:
    async with await served.connect() as conn:
        row = await recording.record_estimate(conn, state.ids[sc.REQUIREMENTS], 300.0)
        assert (row["kind"], row["planned_effort"], row["actual_seconds"]) == ("GENERIC", 2, 300.0)
        # A second run of the task replaces its estimate.
        await recording.record_estimate(conn, state.ids[sc.REQUIREMENTS], 100.0)
        await recording.record_estimate(conn, state.ids[sc.CONSTRAINTS], 90.0, planned_effort=3)
        with pytest.raises(NotFound):
            await recording.record_estimate(conn, str(uuid.uuid4()), 1.0)
        with pytest.raises(InvalidArgument):
            await recording.record_estimate(conn, state.ids[sc.CONSTRAINTS], -1.0)
    assert await count(served, "estimates") == 2
    got = await served.insights.GetEstimateCorrection(ipb.GetEstimateCorrectionRequest())
    # 100 s / 2 and 90 s / 3: median 40 s per effort unit.
    assert (got.samples, got.baseline_seconds_per_effort) == (2, 40.0)
    [generic] = got.corrections
    assert (generic.samples, generic.median_seconds_per_effort, generic.correction_factor) == (2, 40.0, 1.0)


async def test_record_retrospective_summarizes_what_went_well_and_badly(
    served: Served, state: sc.Scenario
) -> None:
    async with await served.connect() as conn:
        retro_id = await recording.record_retrospective(conn, state.spec_id)
        latest = await recording.summarize(conn, state.spec_id, state.executions[1])
        await recording.record_retrospective(conn, state.spec_id, {"note": "given"}, state.executions[1])
        with pytest.raises(NotFound):
            await recording.record_retrospective(conn, str(uuid.uuid4()))
        row = await (
            await conn.execute("SELECT summary FROM orchestrator.retrospectives WHERE id = %s", (retro_id,))
        ).fetchone()
        snapshot = await recording.record_complexity_snapshot(conn, state.spec_id)
    summary = row[0]
    assert summary["tasks"] == 45
    assert summary["by_status"]["COMPLETED"] == 3 and summary["by_status"]["FAILED"] == 1
    assert (summary["attempts"], summary["retries"], summary["first_attempt_successes"]) == (6, 2, 1)
    assert summary["failed"] == [{"key": sc.DATA_MODEL, "error": sc.REFUSED_2}]
    assert summary["needs_review"] == [sc.API_CONTRACT]
    assert summary["slowest"] == [
        {"key": sc.CONSTRAINTS, "seconds": 90.0},
        {"key": sc.DATA_MODEL, "seconds": 60.0},
        {"key": sc.API_CONTRACT, "seconds": 50.0},
    ]
    assert (summary["tokens"], summary["cost_usd"]) == (900, 0.06)
    assert summary["went_well"] == ["1 of 45 tasks completed on their first attempt"]
    assert summary["went_badly"] == [
        f"1 tasks failed: {sc.DATA_MODEL}",
        "2 tasks needed retries (2 extra attempts)",
        "1 tasks wait for human review",
    ]
    # E2 alone: requirements passed on its (only) attempt there; constraints ran in E1.
    assert (latest["attempts"], latest["retries"], latest["tokens"]) == (4, 1, 600)
    assert await count(served, "retrospectives") == 2
    assert (snapshot["task_count"], snapshot["waves"], snapshot["critical_path_effort"]) == (45, 10, 24)
    assert snapshot["total_effort"] == sum(w.total_effort for w in state.analysis.waves)
