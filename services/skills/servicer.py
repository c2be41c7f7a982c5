"""SkillsService: protobuf in, catalogue, mapping, validation and fixing calls, protobuf out."""

from __future__ import annotations

import asyncio
from typing import Any

from devmatrix.v1 import common_pb2, skills_pb2_grpc
from devmatrix.v1 import skills_pb2 as pb
from services.skills.catalogue import Skill
from services.skills.checks.base import Finding, SkillResult, Skipped
from services.skills.fixes import apply_fixes
from services.skills.mapping import TaskShape, map_task
from services.skills.runtime import SkillsRuntime
from services.skills.store import SkillMetrics
from services.skills.validation import FileInput, check_skill_names, prepare, validate

KIND_PREFIX = "TASK_KIND_"


def skill_to_pb(s: Skill) -> pb.Skill:
    return pb.Skill(
        name=s.name,
        domain=s.domain,
        description=s.description,
        guidelines=list(s.guidelines),
        threshold=s.threshold,
        languages=list(s.languages),
    )


def finding_to_pb(f: Finding) -> common_pb2.Finding:
    return common_pb2.Finding(
        skill=f.skill,
        rule=f.rule,
        path=f.path,
        line=f.line,
        message=f.message,
        severity=int(f.severity),
        fixable=f.fixable,
    )


def result_to_pb(r: SkillResult) -> common_pb2.SkillValidation:
    return common_pb2.SkillValidation(
        skill=r.skill,
        score=r.score,
        passed=r.passed,
        threshold=r.threshold,
        findings=[finding_to_pb(f) for f in r.findings],
    )


def skipped_to_pb(s: Skipped) -> pb.SkippedFile:
    return pb.SkippedFile(path=s.path, reason=s.reason)


def files_from_pb(files: Any) -> list[FileInput]:
    return [FileInput(f.path, f.content, f.language) for f in files]


def metrics_to_pb(m: SkillMetrics) -> pb.SkillMetrics:
    return pb.SkillMetrics(
        skill=m.skill,
        validations=m.validations,
        pass_rate=m.pass_rate,
        top_findings=[pb.RuleCount(rule=r.rule, count=r.count) for r in m.top_findings],
    )


def kind_name(value: int) -> str:
    """The TaskKind name without its prefix; an unknown number comes back as itself, which
    the mapping rejects as not a TaskKind."""
    try:
        return common_pb2.TaskKind.Name(value).removeprefix(KIND_PREFIX)
    except ValueError:
        return str(value)


class SkillsServicer(skills_pb2_grpc.SkillsServiceServicer):
    def __init__(self, runtime: SkillsRuntime) -> None:
        self.rt = runtime
        self.catalogue = runtime.catalogue

    async def ListSkills(self, request: pb.ListSkillsRequest, context: Any) -> pb.ListSkillsResponse:
        return pb.ListSkillsResponse(skills=[skill_to_pb(s) for s in self.catalogue.list(request.domain)])

    async def GetSkill(self, request: pb.GetSkillRequest, context: Any) -> pb.GetSkillResponse:
        return pb.GetSkillResponse(skill=skill_to_pb(self.catalogue.get(request.name)))

    async def MapTaskToSkills(
        self, request: pb.MapTaskToSkillsRequest, context: Any
    ) -> pb.MapTaskToSkillsResponse:
        task = TaskShape(
            kind=kind_name(request.kind),
            name=request.name,
            description=request.description,
            files=list(request.files),
            tech_stack=dict(request.tech_stack),
            required_skills=list(request.required_skills),
        )
        return pb.MapTaskToSkillsResponse(skills=[skill_to_pb(s) for s in map_task(self.catalogue, task)])

    async def Validate(self, request: pb.ValidateRequest, context: Any) -> pb.ValidateResponse:
        report = await asyncio.to_thread(
            validate, self.catalogue, files_from_pb(request.files), list(request.skills)
        )
        await self.rt.record(report, request.task_id)
        return pb.ValidateResponse(
            results=[result_to_pb(r) for r in report.results],
            overall_score=report.overall_score,
            passed=report.passed,
            skipped=[skipped_to_pb(s) for s in report.skipped],
        )

    async def ApplyStandards(
        self, request: pb.ApplyStandardsRequest, context: Any
    ) -> pb.ApplyStandardsResponse:
        skills = check_skill_names(self.catalogue, list(request.skills))
        files = files_from_pb(request.files)
        prepare(files)  # refuses bad paths before anything is changed
        fixed = await asyncio.to_thread(apply_fixes, [(f.path, f.content) for f in files])
        languages = {f.path: f.language for f in files}
        fixed_inputs = [FileInput(path, content, languages.get(path, "")) for path, content in fixed.files]
        report = await asyncio.to_thread(validate, self.catalogue, fixed_inputs, skills)
        return pb.ApplyStandardsResponse(
            files=[
                common_pb2.GeneratedFile(path=f.path, content=f.content, language=f.language)
                for f in fixed_inputs
            ],
            fixes_applied=list(fixed.fixes),
            remaining=[result_to_pb(r) for r in report.results if r.findings],
            skipped=[skipped_to_pb(s) for s in report.skipped],
        )

    async def GetSkillMetrics(
        self, request: pb.GetSkillMetricsRequest, context: Any
    ) -> pb.GetSkillMetricsResponse:
        if request.skill.strip():
            names = [self.catalogue.get(request.skill).name]
        else:
            names = [s.name for s in self.catalogue.skills]
        metrics = await self.rt.store.metrics(names)
        return pb.GetSkillMetricsResponse(metrics=[metrics_to_pb(m) for m in metrics])
