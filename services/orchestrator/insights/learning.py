"""Learning queries (seed 002): estimate correction, scope creep, slow agents and the
failed attempts whose errors match a text.

The seed's queries adapted to this schema: estimates compare seconds per effort unit
instead of sessions, scope creep compares the tasks planned at ingestion with the work
done (tasks now plus retries), and the slow-agent query gives percentiles, not just means."""

from __future__ import annotations

import re
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row

from devmatrix.stores.postgres import Postgres
from services.orchestrator.insights.monitor import spec_or_not_found
from services.orchestrator.insights.monitor_queries import read_only_snapshot
from services.orchestrator.insights.records import (
    AgentLatency,
    AttemptFailure,
    EstimateCorrections,
    KindCorrection,
    ScopeCreep,
)

# The seed's scope creep query flags actual > planned * 1.5.
SCOPE_CREEP_THRESHOLD = 1.5
# Words of a failure text searched for (any of them matches); more add nothing but cost.
MAX_SEARCH_WORDS = 32


async def estimate_corrections(db: Postgres, kind: str | None, since: datetime | None) -> EstimateCorrections:
    """Median actual seconds per planned effort unit per kind, and each kind's factor
    against the median over every kind (estimates of zero effort say nothing, skipped)."""
    async with db.pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(
            """WITH s AS (
                   SELECT kind, actual_seconds / planned_effort AS per_effort FROM orchestrator.estimates
                   WHERE planned_effort > 0 AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
               )
               SELECT kind, count(*)::int, percentile_cont(0.5) WITHIN GROUP (ORDER BY per_effort)
               FROM s GROUP BY kind
               UNION ALL
               SELECT NULL, count(*)::int, percentile_cont(0.5) WITHIN GROUP (ORDER BY per_effort) FROM s""",
            {"since": since},
        )
        rows = await cur.fetchall()
    baseline = next(((n, m or 0.0) for k, n, m in rows if k is None), (0, 0.0))
    corrections = [
        KindCorrection(
            kind=k,
            samples=n,
            median_seconds_per_effort=round(m, 4),
            correction_factor=round(m / baseline[1], 4) if baseline[1] > 0 else 0.0,
        )
        for k, n, m in sorted((r for r in rows if r[0] is not None), key=lambda r: r[0])
        if kind is None or k == kind
    ]
    return EstimateCorrections(corrections, round(baseline[1], 4), baseline[0])


async def scope_creep(db: Postgres, spec_id: str) -> ScopeCreep:
    """Tasks created in the ingestion's transaction (its now() is the spec's created_at)
    against the tasks now and the attempts beyond each task's first."""
    async with db.pool.connection() as conn, conn.transaction():
        await read_only_snapshot(conn)
        spec = await spec_or_not_found(conn, spec_id)
        row = await _scope_counts(conn, spec_id, spec.created_at)
    assert row is not None
    return ScopeCreep(spec_id=spec_id, threshold=SCOPE_CREEP_THRESHOLD, **row)


async def _scope_counts(conn: AsyncConnection, spec_id: str, created: datetime | None) -> dict | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """SELECT count(*) FILTER (WHERE created_at <= %(created)s)::int AS planned_tasks,
                      count(*)::int AS current_tasks,
                      count(*) FILTER (WHERE created_at > %(created)s)::int AS added_tasks,
                      count(*) FILTER (WHERE attempts > 1)::int AS regenerated_tasks,
                      COALESCE(sum(GREATEST(attempts - 1, 0)), 0)::int AS extra_attempts
               FROM orchestrator.tasks WHERE spec_id = %(spec_id)s AND task_type = 'TASK'""",
            {"spec_id": spec_id, "created": created},
        )
        return await cur.fetchone()


async def slowest_agents(
    db: Postgres, limit: int, since: datetime | None, spec_id: str | None
) -> list[AgentLatency]:
    """Agents by p95, then p50 duration of their logged actions (one spec's, or all)."""
    async with db.pool.connection() as conn:
        if spec_id is not None:
            await spec_or_not_found(conn, spec_id)
        return await _latencies(conn, limit, since, spec_id)


async def _latencies(
    conn: AsyncConnection, limit: int, since: datetime | None, spec_id: str | None
) -> list[AgentLatency]:
    async with conn.cursor(row_factory=class_row(AgentLatency)) as cur:
        await cur.execute(
            """SELECT agent, count(*)::int AS actions, count(*) FILTER (WHERE NOT success)::int AS failures,
                      round(avg(duration_ms), 3)::float8 AS mean_ms,
                      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::numeric, 3)::float8 AS p50_ms,
                      round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 3)::float8 AS p95_ms,
                      max(duration_ms)::float8 AS max_ms,
                      sum(tokens_in)::bigint AS tokens_in, sum(tokens_out)::bigint AS tokens_out,
                      round(sum(cost_usd)::numeric, 6)::float8 AS cost_usd
               FROM orchestrator.agent_logs
               WHERE (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
                 AND (%(spec_id)s::uuid IS NULL OR spec_id = %(spec_id)s)
               GROUP BY agent ORDER BY p95_ms DESC, p50_ms DESC, agent LIMIT %(limit)s""",
            {"since": since, "spec_id": spec_id, "limit": limit},
        )
        return await cur.fetchall()


def search_words(text: str) -> str:
    """The text's words as a websearch query matching any of them ("a or b or c")."""
    words: list[str] = []
    for word in re.findall(r"\w+", text.lower()):
        if word != "or" and word not in words:
            words.append(word)
    return " or ".join(words[:MAX_SEARCH_WORDS])


async def attempt_failures(conn: AsyncConnection, text: str, limit: int) -> list[AttemptFailure]:
    """Failed attempts whose error contains the text (score 1) or shares words with it
    (full-text rank, scaled to 0..1), best first, newest first among equals."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with conn.cursor(row_factory=class_row(AttemptFailure)) as cur:
        await cur.execute(
            """WITH q AS (SELECT websearch_to_tsquery('english', %(words)s) AS query),
               found AS (
                   SELECT a.*, to_tsvector('english', a.error) AS doc, a.error ILIKE %(pattern)s AS contains
                   FROM orchestrator.task_attempts a
                   WHERE NOT a.success AND a.error IS NOT NULL AND a.error <> ''
               )
               SELECT f.task_id::text, t.key AS task_key, t.spec_id::text, COALESCE(f.execution_id::text, '')
                          AS execution_id, f.attempt, COALESCE(f.agent, '') AS agent,
                      COALESCE(f.generator, '') AS generator, f.error,
                      CASE WHEN f.contains THEN 1.0
                           ELSE round(ts_rank(f.doc, q.query, 32)::numeric, 4)::float8 END AS score,
                      f.finished_at AS failed_at
               FROM found f CROSS JOIN q JOIN orchestrator.tasks t ON t.id = f.task_id
               WHERE f.contains OR (numnode(q.query) > 0 AND f.doc @@ q.query)
               ORDER BY score DESC, failed_at DESC NULLS LAST, f.task_id, f.attempt LIMIT %(limit)s""",
            {"words": search_words(text), "pattern": pattern, "limit": limit},
        )
        return await cur.fetchall()
