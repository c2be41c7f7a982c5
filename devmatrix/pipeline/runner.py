"""The ten phases of a run, in order, each reported as it starts, moves and ends."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc

from devmatrix.pipeline import compliance, validation
from devmatrix.pipeline.clients import Clients, all_tasks
from devmatrix.pipeline.environment import Environment, SetupFailed, ensure
from devmatrix.pipeline.health import check as health_check
from devmatrix.pipeline.learning import learn
from devmatrix.pipeline.project import deploy, stage
from devmatrix.pipeline.summary import COMPLIANCE_TARGET, PHASES, Health, Level, PhaseResult, RunSummary
from devmatrix.runtime.channels import describe_rpc_error
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import skills_pb2

# A task is atomic when one generation can write and one validation can check it.
ATOMIC_MAX_EFFORT = 8
ATOMIC_MAX_OUTPUTS = 8
POLL_SECONDS = 0.25


class Reporter(Protocol):
    def start(self, phase: str, name: str, total: int | None) -> None: ...

    def advance(self, phase: str, done: int, total: int | None, note: str = "") -> None: ...

    def finish(self, result: PhaseResult) -> None: ...


class PhaseFailed(Exception):
    """A phase could not do its work; the message is its result line."""


@dataclass
class RunOptions:
    out_dir: Path
    concurrency: int
    environments: Path
    spec_text: str
    is_json: bool
    name: str = ""


class PipelineRun:
    def __init__(self, clients: Clients, options: RunOptions, reporter: Reporter) -> None:
        self.clients, self.options, self.reporter = clients, options, reporter
        self.summary = RunSummary(out_dir=str(options.out_dir.absolute()))
        self.staged: Path | None = None
        self.workdir: Path | None = None
        self.deployed = False
        self.env: Environment | None = None
        self.files: list[pb.TaskFile] = []
        self.validation: skills_pb2.ValidateResponse | None = None

    async def run(self) -> RunSummary:
        started = time.monotonic()
        steps: list[Callable[[], Awaitable[tuple[bool, str]]]] = [
            self.ingest,
            self.requirements,
            self.planning,
            self.atomization,
            self.waves,
            self.execute,
            self.comply,
            self.validate,
            self.deploy,
            self.health,
            self.learn,
        ]
        try:
            for (number, name), step in zip(PHASES, steps, strict=True):
                self.reporter.start(number, name, None)
                begun = time.monotonic()
                try:
                    ok, line = await step()
                except PhaseFailed as failure:
                    ok, line = False, str(failure)
                except grpc.aio.AioRpcError as error:
                    if number == "1":
                        raise  # the spec was refused: the caller's one-line error
                    ok, line = False, describe_rpc_error(error)
                result = PhaseResult(number, name, ok, line, round(time.monotonic() - begun, 3))
                self.summary.phases.append(result)
                self.reporter.finish(result)
                if not ok and number in ("1", "2", "3", "5"):
                    break  # without a stored, planned, scheduled spec nothing else can run
        finally:
            for scratch in (self.staged, self.workdir):
                if scratch is not None:
                    shutil.rmtree(scratch, ignore_errors=True)
            self.summary.wall_seconds = round(time.monotonic() - started, 3)
        if self.summary.spec_id:
            recorded = await self.clients.orchestrator.RecordPipelineRun(
                pb.RecordPipelineRunRequest(run=self.summary.as_pb())
            )
            self.summary.run_id = recorded.run.id
        return self.summary

    # --- phases 1 to 5: the spec, its plan and its waves ----------------------------------------

    async def ingest(self) -> tuple[bool, str]:
        request = pb.CreateSpecRequest(name=self.options.name)
        if self.options.is_json:
            request.plan_json = self.options.spec_text
        else:
            request.markdown = self.options.spec_text
        created = await self.clients.orchestrator.CreateSpec(request)
        self.summary.spec_id = created.spec.id
        return True, f"spec {created.spec.id} stored ({created.spec.name})"

    async def requirements(self) -> tuple[bool, str]:
        spec = await self.clients.orchestrator.GetSpec(pb.GetSpecRequest(spec_id=self.summary.spec_id))
        kinds = Counter(
            pb.RequirementCategory.Name(r.category).removeprefix("REQUIREMENT_CATEGORY_").lower()
            for r in spec.requirements
        )
        parts = "requirements: " + (
            ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(kinds.items())) or "none"
        )
        return True, f"{parts}; {len(spec.entities)} entities, {len(spec.endpoints)} endpoints"

    async def planning(self) -> tuple[bool, str]:
        tasks = await all_tasks(self.clients.orchestrator, self.summary.spec_id)
        by_type: dict[str, int] = {}
        for t in tasks:
            name = c.TaskType.Name(t.type).removeprefix("TASK_TYPE_").lower()
            by_type[name] = by_type.get(name, 0) + 1
        self.summary.tasks = by_type.get("task", 0)
        order = ("phase", "task_group", "task", "subtask")
        line = ", ".join(f"{by_type.get(k, 0)} {k.replace('_', ' ')}s" for k in order)
        return self.summary.tasks > 0, line if self.summary.tasks else f"{line}: nothing to execute"

    async def atomization(self) -> tuple[bool, str]:
        tasks = await all_tasks(self.clients.orchestrator, self.summary.spec_id, c.TASK_TYPE_TASK)
        outputs = {t.key: [p for p in t.expected_output.split(",") if p.strip()] for t in tasks}
        too_big = [
            t.key for t in tasks if t.effort > ATOMIC_MAX_EFFORT or len(outputs[t.key]) > ATOMIC_MAX_OUTPUTS
        ]
        largest = max((t.effort for t in tasks), default=0)
        most = max((len(o) for o in outputs.values()), default=0)
        line = f"{len(tasks) - len(too_big)} of {len(tasks)} tasks atomic (largest effort {largest}, at most {most} files)"
        if too_big:
            line += f"; too large to generate and check alone: {', '.join(too_big[:5])}"
        return not too_big, line

    async def waves(self) -> tuple[bool, str]:
        analysis = await self.clients.orchestrator.AnalyzeDependencies(
            pb.AnalyzeDependenciesRequest(spec_id=self.summary.spec_id)
        )
        self.summary.waves = len(analysis.waves)
        return True, (
            f"{len(analysis.waves)} waves, critical path {len(analysis.critical_path)} tasks "
            f"(effort {analysis.critical_path_effort} of {analysis.total_effort}), "
            f"ideal speedup {analysis.ideal_speedup:.1f}x"
        )

    # --- phase 6: the waves run in the orchestrator -----------------------------------------------

    async def execute(self) -> tuple[bool, str]:
        s = self.summary
        started = await self.clients.orchestrator.ExecuteSpec(
            pb.ExecuteSpecRequest(spec_id=s.spec_id, concurrency=self.options.concurrency)
        )
        s.execution_id = started.execution.id
        try:
            execution = await self._follow(started.execution.id)
        except asyncio.CancelledError:
            await asyncio.shield(
                self.clients.orchestrator.CancelExecution(
                    pb.CancelExecutionRequest(execution_id=s.execution_id)
                )
            )
            raise
        s.waves_executed = execution.waves_executed
        s.execution_wall_seconds, s.sequential_seconds = execution.wall_seconds, execution.sequential_seconds
        tasks = await all_tasks(self.clients.orchestrator, s.spec_id, c.TASK_TYPE_TASK)
        s.tasks_completed = sum(t.status == c.TASK_STATUS_COMPLETED for t in tasks)
        s.tasks_in_review = sum(t.status == c.TASK_STATUS_NEEDS_REVIEW for t in tasks)
        failed = [t for t in tasks if t.status in (c.TASK_STATUS_FAILED, c.TASK_STATUS_BLOCKED)]
        s.tasks_failed = len(failed)
        for t in failed:
            reports = (
                await self.clients.orchestrator.ListReports(pb.ListReportsRequest(task_id=t.id))
            ).reports
            reason = json.loads(reports[-1].content_json).get("reason", "") if reports else ""
            status = c.TaskStatus.Name(t.status).removeprefix("TASK_STATUS_")
            s.failures.append(
                {"task": t.key, "status": status, "reason": reason or "blocked by a failed dependency"}
            )
        line = (
            f"{s.tasks_completed} completed, {s.tasks_failed} failed or blocked, {s.tasks_in_review} in review; "
            f"{s.waves_executed} waves in {s.execution_wall_seconds:.1f} s ({s.speedup:.1f}x against one by one)"
        )
        return s.tasks_completed > 0 and not s.tasks_failed and not s.tasks_in_review, line

    async def _follow(self, execution_id: str) -> pb.Execution:
        total = self.summary.tasks
        while True:
            execution = (
                await self.clients.orchestrator.GetExecution(
                    pb.GetExecutionRequest(execution_id=execution_id)
                )
            ).execution
            done = execution.tasks_completed + execution.tasks_failed + execution.tasks_in_review
            self.reporter.advance("6", done, total, f"wave {execution.waves_executed + 1}")
            if execution.status != pb.EXECUTION_STATUS_RUNNING:
                return execution
            await asyncio.sleep(POLL_SECONDS)

    # --- phases 6.5 to 9: the project the database holds ------------------------------------------

    async def comply(self) -> tuple[bool, str]:
        s = self.summary
        result = await compliance.check_and_repair(
            self.clients,
            s.spec_id,
            COMPLIANCE_TARGET,
            lambda done, total: self.reporter.advance("6.5", done, total, "repairing"),
        )
        s.compliance_before_repair, s.compliance = round(result.before, 4), round(result.after, 4)
        s.tasks_repaired = len(result.repaired)
        self.validation = result.validation
        line = f"compliance {result.after:.3f} (target {COMPLIANCE_TARGET})"
        if result.before < COMPLIANCE_TARGET:
            line += f"; was {result.before:.3f}, {len(result.repaired)} tasks repaired"
        return result.after >= COMPLIANCE_TARGET, line

    async def validate(self) -> tuple[bool, str]:
        listing = await self.clients.orchestrator.ListTaskFiles(
            pb.ListTaskFilesRequest(spec_id=self.summary.spec_id)
        )
        self.files = list(listing.files)
        if not self.files:
            raise PhaseFailed("no generated files in the database: nothing to validate")
        files = [f.file for f in self.files]
        # Checks run in a copy of their own: what they leave behind (caches, databases)
        # must not reach the deployed project, which holds exactly the database's files.
        self.staged = stage(files, self.options.out_dir)
        self.workdir = stage(files, self.options.out_dir)
        if self.validation is None:
            self.validation = await compliance.validate(self.clients, files)
        levels: list[Level] = []
        self.reporter.advance("7", 0, 4, "preparing the isolated environment")
        try:
            self.env, _ = await ensure(self.workdir, self.options.environments)
        except SetupFailed as error:
            self.env = None
            levels.append(await validation.atomic(files, self.validation, None, self.workdir))
            levels.append(Level("module", False, 0, 0, f"not run: {error}"))
        else:
            levels.append(await validation.atomic(files, self.validation, self.env, self.workdir))
            self.reporter.advance("7", 1, 4, "module")
            levels.append(await validation.module(self.env, self.workdir))
        self.reporter.advance("7", 2, 4, "component")
        levels.append(validation.component(self.validation))
        self.reporter.advance("7", 3, 4, "system")
        if self.env is not None:
            levels.append(await validation.system(self.env, self.workdir))
        else:
            levels.append(Level("system", False, 0, 0, "not run: no environment"))
        self.summary.validation = levels
        return all(v.passed for v in levels), "; ".join(
            f"{v.level} {'passed' if v.passed else 'FAILED'} ({v.detail})" for v in levels
        )

    async def deploy(self) -> tuple[bool, str]:
        if self.staged is None:
            raise PhaseFailed("nothing staged to deploy")
        replaced = deploy(self.staged, self.options.out_dir)
        self.staged, self.deployed = None, True
        line = f"{len(self.files)} files from the database written to {self.options.out_dir}"
        return True, line + (" (the previous content replaced whole)" if replaced else "")

    async def health(self) -> tuple[bool, str]:
        if not self.deployed:
            self.summary.health = Health(detail="not run: the project was not deployed")
            return False, self.summary.health.detail
        system = next((v for v in self.summary.validation if v.level == "system"), None)
        if self.env is None or system is None:
            self.summary.health = Health(detail="no isolated environment: the project could not be installed")
            return False, self.summary.health.detail
        if not (self.options.out_dir / "app").is_dir():
            self.summary.health = Health(installed=True, detail="the project has no app package to serve")
            return False, self.summary.health.detail
        self.summary.health = await health_check(
            self.env, self.options.out_dir.absolute(), system.checked - system.failed, system.failed
        )
        h = self.summary.health
        return h.passed, (
            f"installed; tests {h.tests_passed} passed, {h.tests_failed} failed; "
            f"{h.endpoints_ok}/{h.endpoints_checked} endpoints answered; {h.detail}"
        )

    # --- phase 10 ------------------------------------------------------------------------------

    async def learn(self) -> tuple[bool, str]:
        return await learn(self.clients, self.summary)
