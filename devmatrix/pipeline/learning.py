"""Phase 10: what the run leaves for the next one. Codegen stored the passing code as
success patterns and recorded the outcomes of the patterns it reused; the orchestrator
recorded estimates, a complexity snapshot and a retrospective when the execution ended.
Here: failures are stored with their lesson, and the run's figures are gathered."""

from __future__ import annotations

import asyncio
import json

from devmatrix.pipeline.clients import Clients, all_tasks
from devmatrix.pipeline.summary import RunSummary
from devmatrix.standards import KIND_CATEGORY
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import insights_pb2, patterns_pb2
from devmatrix.v1 import orchestrator_pb2 as pb

LESSONS = (
    ("ANTHROPIC_API_KEY", "needs the Anthropic generator: set ANTHROPIC_API_KEY, or write this task by hand"),
    ("DEADLINE_EXCEEDED", "took longer than the task timeout: split the task or raise TASK_TIMEOUT_SECONDS"),
    ("UNAVAILABLE", "codegen was unreachable after every retry: check the codegen service before rerunning"),
    (
        "validation did not pass",
        "the generated code failed skills checks: feed the findings back or review it",
    ),
)


def lesson_of(reason: str) -> str:
    for marker, lesson in LESSONS:
        if marker in reason:
            return lesson
    return "failed for a reason no earlier lesson covers: read the task's attempts before rerunning"


async def _reports(clients: Clients, task_id: str) -> list[dict[str, object]]:
    reports = (await clients.orchestrator.ListReports(pb.ListReportsRequest(task_id=task_id))).reports
    return [json.loads(r.content_json) for r in reports if r.type == pb.REPORT_TYPE_IMPLEMENTATION]


async def _stored_pattern(clients: Clients, task: c.Task) -> bool:
    found = await clients.patterns.SearchPatterns(
        patterns_pb2.SearchPatternsRequest(query=task.name, top_k=1, filters={"tag": f"task:{task.id}"[:50]})
    )
    return bool(found.matches)


async def learn(clients: Clients, s: RunSummary) -> tuple[bool, str]:
    tasks = await all_tasks(clients.orchestrator, s.spec_id, c.TASK_TYPE_TASK)
    executed = [t for t in tasks if t.status != c.TASK_STATUS_BLOCKED]
    reports = await asyncio.gather(*(_reports(clients, t.id) for t in executed))
    reusing = 0
    for task_reports in reports:
        usage = task_reports[-1] if task_reports else {}
        reusing += bool(usage.get("reused_pattern_ids"))
        for report in task_reports:
            tokens = report.get("tokens") or {}
            if isinstance(tokens, dict):
                s.tokens_in += int(tokens.get("input", 0))
                s.tokens_out += int(tokens.get("output", 0))
            s.cost_usd += float(report.get("cost_usd", 0.0) or 0.0)  # type: ignore[arg-type]
    s.cost_usd = round(s.cost_usd, 6)
    s.tasks_reusing_patterns = reusing
    s.reuse_rate = round(reusing / len(executed), 4) if executed else 0.0
    completed = [t for t in tasks if t.status == c.TASK_STATUS_COMPLETED]
    s.patterns_stored = sum(await asyncio.gather(*(_stored_pattern(clients, t) for t in completed)))
    by_key = {t.key: t for t in tasks}
    for failure in s.failures:
        task = by_key.get(failure["task"])
        if task is None or failure["status"] != "FAILED":
            continue
        failure["lesson"] = lesson_of(failure["reason"])
        await clients.patterns.StoreFailure(
            patterns_pb2.StoreFailureRequest(
                request_id=f"run:{s.execution_id}:{task.id}",
                failure=patterns_pb2.Failure(
                    task_id=task.id,
                    attempted=f"{task.name}: {task.expected_output}"[:2000],
                    error=failure["reason"][:4000],
                    lesson=failure["lesson"],
                    category=KIND_CATEGORY.get(c.TaskKind.Name(task.kind).removeprefix("TASK_KIND_"), ""),
                ),
            )
        )
    corrections = await clients.insights.GetEstimateCorrection(insights_pb2.GetEstimateCorrectionRequest())
    factors = {
        c.TaskKind.Name(k.kind).removeprefix("TASK_KIND_"): round(k.correction_factor, 2)
        for k in corrections.corrections
    }
    s.estimate_correction = {"samples": corrections.samples, "factors": factors}
    lessons = sum(1 for f in s.failures if "lesson" in f)
    return True, (
        f"{s.patterns_stored} success patterns stored, {lessons} failures with lessons; "
        f"reuse {s.reuse_rate:.0%} ({reusing}/{len(executed)} tasks reused stored patterns); "
        f"estimates over {corrections.samples} tasks, correction factors {factors or 'none yet'}"
    )
