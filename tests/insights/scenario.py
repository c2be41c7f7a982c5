"""One realistic state of a spec mid-execution, built the way the system builds it:
specs through CreateSpec, statuses through UpdateTaskStatus, and the rows the execution
engine writes (executions, task_attempts, agent_logs) inserted as it inserts them.

The task_api example spec has 45 executable tasks in 10 waves of sizes
2, 3, 1, 2, 6, 13, 9, 5, 3, 1. After `build`:
- wave 0: requirements COMPLETED (coder-1; attempts: failed 10 s, passed 20 s),
  constraints COMPLETED (coder-2; passed 90 s);
- wave 1: structure COMPLETED by hand (coder-1; no attempt recorded), data-model FAILED
  (coder-1; two failed attempts of 40 s and 20 s), api-contract NEEDS_REVIEW (coder-2;
  passed 50 s with confidence 0.4);
- executions: E1 (2 h ago, concurrency 1) ran the first attempts of requirements and
  constraints, E2 (1 h ago, concurrency 4) the other four attempts; each attempt used
  100 tokens in, 50 out and $0.01;
- agent logs on the spec: coder-1 100..500 ms (the 500 ms one failed), coder-2 1000 and
  3000 ms, planner 50 ms; on the second (diamond) spec: coder-1 10000 ms, and its task
  `a` RUNNING on coder-1.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.insights.conftest import Served
from tests.integration import plans

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "specs" / "task_api.md"
WAVE_SIZES = [2, 3, 1, 2, 6, 13, 9, 5, 3, 1]
REQUIREMENTS, CONSTRAINTS = "P1.analysis.requirements", "P1.analysis.constraints"
STRUCTURE, DATA_MODEL, API_CONTRACT = "P2.design.structure", "P2.design.data-model", "P2.design.api-contract"
IMPORT_ERROR = "ImportError: cannot import name 'Settings' from 'app.config'"
REFUSED_1 = "psycopg.OperationalError: connection refused"
REFUSED_2 = "psycopg.OperationalError: connection refused by server at db:5432"


@dataclasses.dataclass
class Scenario:
    spec_id: str
    other_spec_id: str
    ids: dict[str, str]  # task key -> id (task_api spec)
    other_ids: dict[str, str]  # task key -> id (diamond spec)
    analysis: pb.AnalyzeDependenciesResponse
    executions: list[str]  # E1, E2
    now: datetime


async def tasks_by_key(served: Served, spec_id: str) -> dict[str, c.Task]:
    tree = await served.orchestrator.GetTaskTree(
        pb.GetTaskTreeRequest(spec_id=spec_id, type=c.TASK_TYPE_TASK, page_size=2000)
    )
    return {t.key: t for t in tree.tasks}


async def move(served: Served, task_id: str, *statuses: int, agent: str = "") -> None:
    for status in statuses:
        await served.orchestrator.UpdateTaskStatus(
            pb.UpdateTaskStatusRequest(task_id=task_id, status=status, assigned_to=agent)
        )


RUN, DONE, FAIL, REVIEW = (
    c.TASK_STATUS_RUNNING,
    c.TASK_STATUS_COMPLETED,
    c.TASK_STATUS_FAILED,
    c.TASK_STATUS_NEEDS_REVIEW,
)


async def insert_attempt(
    conn, task_id: str, execution_id: str, attempt: int, agent: str, seconds: float, error: str | None, at
) -> None:
    await conn.execute(
        """INSERT INTO orchestrator.task_attempts (task_id, execution_id, attempt, agent, generator, success,
               error, confidence, tokens_in, tokens_out, cost_usd, started_at, finished_at)
           VALUES (%s, %s, %s, %s, 'offline', %s, %s, 0.9, 100, 50, 0.01, %s, %s)""",
        (task_id, execution_id, attempt, agent, error is None, error, at, at + timedelta(seconds=seconds)),
    )
    await conn.execute(
        "UPDATE orchestrator.tasks SET attempts = GREATEST(attempts, %s) WHERE id = %s", (attempt, task_id)
    )


async def insert_log(
    conn, spec_id: str, agent: str, ms: int, success: bool = True, at: datetime | None = None
) -> None:
    await conn.execute(
        """INSERT INTO orchestrator.agent_logs (spec_id, agent, phase, action, duration_ms, success,
               error, tokens_in, tokens_out, cost_usd, created_at)
           VALUES (%s, %s, 'building', 'generate', %s, %s, %s, 10, 5, 0.001, COALESCE(%s, now()))""",
        (spec_id, agent, ms, success, None if success else "timeout", at),
    )


async def build(served: Served) -> Scenario:
    created = await served.orchestrator.CreateSpec(pb.CreateSpecRequest(markdown=EXAMPLE.read_text()))
    spec_id = created.spec.id
    analysis = await served.orchestrator.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec_id))
    other = await served.orchestrator.CreateSpec(pb.CreateSpecRequest(plan_json=plans.diamond()))
    ids = {k: t.id for k, t in (await tasks_by_key(served, spec_id)).items()}
    other_ids = {k: t.id for k, t in (await tasks_by_key(served, other.spec.id)).items()}

    await move(served, ids[REQUIREMENTS], RUN, DONE, agent="coder-1")
    await move(served, ids[CONSTRAINTS], RUN, DONE, agent="coder-2")
    await move(served, ids[STRUCTURE], RUN, DONE, agent="coder-1")
    await move(served, ids[DATA_MODEL], RUN, FAIL, agent="coder-1")
    await move(served, ids[API_CONTRACT], RUN, REVIEW, agent="coder-2")
    await move(served, other_ids["a"], RUN, agent="coder-1")

    now = datetime.now(UTC)
    e1, e2 = str(uuid.uuid4()), str(uuid.uuid4())
    async with await served.connect() as conn:
        for eid, status, concurrency, started in (
            (e1, "COMPLETED", 1, now - timedelta(hours=2)),
            (e2, "FAILED", 4, now - timedelta(hours=1)),
        ):
            await conn.execute(
                """INSERT INTO orchestrator.executions (id, spec_id, status, concurrency, waves_executed,
                       tasks_completed, tasks_failed, tasks_in_review, wall_seconds, sequential_seconds,
                       started_at, finished_at)
                   VALUES (%s, %s, %s, %s, 2, 3, 1, 1, 120.5, 230.0, %s, %s)""",
                (eid, spec_id, status, concurrency, started, started + timedelta(minutes=10)),
            )
        t0 = now - timedelta(hours=2)
        await insert_attempt(conn, ids[REQUIREMENTS], e1, 1, "coder-1", 10, IMPORT_ERROR, t0)
        await insert_attempt(conn, ids[CONSTRAINTS], e1, 1, "coder-2", 90, None, t0)
        t1 = now - timedelta(hours=1)
        await insert_attempt(conn, ids[REQUIREMENTS], e2, 2, "coder-1", 20, None, t1)
        await insert_attempt(conn, ids[DATA_MODEL], e2, 1, "coder-1", 40, REFUSED_1, t1)
        await insert_attempt(
            conn, ids[DATA_MODEL], e2, 2, "coder-1", 20, REFUSED_2, t1 + timedelta(minutes=1)
        )
        await insert_attempt(conn, ids[API_CONTRACT], e2, 1, "coder-2", 50, None, t1)
        await conn.execute(
            "UPDATE orchestrator.tasks SET confidence = 0.4 WHERE id = %s", (ids[API_CONTRACT],)
        )
        for ms in (100, 200, 300, 400):
            await insert_log(conn, spec_id, "coder-1", ms)
        await insert_log(conn, spec_id, "coder-1", 500, success=False)
        for ms in (1000, 3000):
            await insert_log(conn, spec_id, "coder-2", ms)
        await insert_log(conn, spec_id, "planner", 50)
        await insert_log(conn, other.spec.id, "coder-1", 10000)
    return Scenario(spec_id, other.spec.id, ids, other_ids, analysis, [e1, e2], now)
