"""SkillsService: protobuf in, catalogue and mapping calls, protobuf out. Validate,
ApplyStandards and GetSkillMetrics are not overridden yet, so they answer UNIMPLEMENTED."""

from __future__ import annotations

from typing import Any

from devmatrix.v1 import common_pb2, skills_pb2_grpc
from devmatrix.v1 import skills_pb2 as pb
from services.skills.catalogue import Catalogue, Skill
from services.skills.mapping import TaskShape, map_task

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


def kind_name(value: int) -> str:
    """The TaskKind name without its prefix; an unknown number comes back as itself, which
    the mapping rejects as not a TaskKind."""
    try:
        return common_pb2.TaskKind.Name(value).removeprefix(KIND_PREFIX)
    except ValueError:
        return str(value)


class SkillsServicer(skills_pb2_grpc.SkillsServiceServicer):
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

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
