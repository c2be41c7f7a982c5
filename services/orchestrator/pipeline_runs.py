"""Outcomes of `devmatrix run`: stored per spec (the summary whole, as JSON) and exported as
the pipeline metrics the alerts and the dashboard read."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from psycopg.errors import UniqueViolation

from devmatrix.runtime.errors import FieldViolation, InvalidArgument, NotFound
from devmatrix.stores.postgres import Postgres
from services.orchestrator import repository as repo

LEVELS = ("atomic", "module", "component", "system")
RESULTS = ("passed", "failed")


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "devmatrix_pipeline_runs", "Pipeline runs recorded, by result.", ("result",), registry=registry
        )
        self.validation = Counter(
            "devmatrix_pipeline_validation",
            "Validation of a pipeline run's project, by level and result.",
            ("level", "result"),
            registry=registry,
        )
        self.compliance = Histogram(
            "devmatrix_pipeline_compliance",
            "Skills compliance of a pipeline run's project (0 to 1).",
            buckets=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
            registry=registry,
        )
        self.health_checks = Counter(
            "devmatrix_pipeline_health_checks",
            "Health checks of generated projects, by result.",
            ("result",),
            registry=registry,
        )
        self.reuse_rate = Gauge(
            "devmatrix_pipeline_reuse_rate",
            "Share of the last run's tasks that reused a stored pattern.",
            registry=registry,
        )
        # Present at 0, so rate() and ratios work from the start.
        for result in RESULTS:
            self.runs.labels(result)
            self.health_checks.labels(result)
            for level in LEVELS:
                self.validation.labels(level, result)

    def observe(self, run: PipelineOutcome) -> None:
        self.runs.labels(_result(run.passed)).inc()
        for level, passed in run.levels.items():
            self.validation.labels(level, _result(passed)).inc()
        self.compliance.observe(run.compliance)
        if run.health_passed is not None:
            self.health_checks.labels(_result(run.health_passed)).inc()
        self.reuse_rate.set(run.reuse_rate)


def _result(passed: bool) -> str:
    return "passed" if passed else "failed"


@dataclass(frozen=True)
class PipelineOutcome:
    spec_id: str
    execution_id: str | None
    passed: bool
    compliance: float
    # Level -> passed, for the levels that ran.
    levels: dict[str, bool]
    # None: no health check ran (the project had nothing to serve, or an earlier phase failed).
    health_passed: bool | None
    reuse_rate: float
    # Everything the caller reported, stored and returned as is.
    summary: dict[str, Any]


def check_outcome(run: PipelineOutcome) -> None:
    problems = [
        FieldViolation(f"run.{name}", "a number from 0 to 1")
        for name, value in (("compliance", run.compliance), ("reuse_rate", run.reuse_rate))
        if not (math.isfinite(value) and 0.0 <= value <= 1.0)
    ]
    problems += [
        FieldViolation("run.validation", f"unknown level {level!r}: one of {', '.join(LEVELS)}")
        for level in run.levels
        if level not in LEVELS
    ]
    if problems:
        named = "; ".join(f"{v.field}: {v.description}" for v in problems)
        raise InvalidArgument(f"the pipeline run is not valid: {named}", problems)


@dataclass(frozen=True)
class StoredRun:
    id: str
    summary: dict[str, Any]
    recorded_at: datetime


async def record(
    db: Postgres, metrics: PipelineMetrics, run: PipelineOutcome, request_id: str | None
) -> StoredRun:
    """Store `run` once: a repeated request_id returns the first record, counted once."""
    check_outcome(run)
    run_id = str(uuid.uuid4())
    async with db.pool.connection() as conn:
        if request_id:
            existing = await _by_request(conn, request_id)
            if existing:
                return existing
        if await repo.get_spec(conn, run.spec_id) is None:
            raise NotFound(f"spec {run.spec_id} not found", "spec", run.spec_id)
        try:
            cur = await conn.execute(
                """INSERT INTO orchestrator.pipeline_runs
                       (id, spec_id, execution_id, request_id, passed, compliance, summary)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING recorded_at""",
                (
                    run_id,
                    run.spec_id,
                    run.execution_id,
                    request_id,
                    run.passed,
                    run.compliance,
                    json.dumps(run.summary),
                ),
            )
        except UniqueViolation:  # the same request, concurrently
            await conn.rollback()
            existing = await _by_request(conn, request_id or "")
            assert existing is not None
            return existing
        row = await cur.fetchone()
    assert row is not None
    metrics.observe(run)
    return StoredRun(run_id, run.summary, row[0])


async def _by_request(conn: Any, request_id: str) -> StoredRun | None:
    cur = await conn.execute(
        "SELECT id::text, summary, recorded_at FROM orchestrator.pipeline_runs WHERE request_id = %s",
        (request_id,),
    )
    row = await cur.fetchone()
    return StoredRun(*row) if row else None


async def list_runs(db: Postgres, spec_id: str) -> list[StoredRun]:
    async with db.pool.connection() as conn:
        if await repo.get_spec(conn, spec_id) is None:
            raise NotFound(f"spec {spec_id} not found", "spec", spec_id)
        cur = await conn.execute(
            """SELECT id::text, summary, recorded_at FROM orchestrator.pipeline_runs
               WHERE spec_id = %s ORDER BY recorded_at DESC, id""",
            (spec_id,),
        )
        return [StoredRun(*row) for row in await cur.fetchall()]
