"""The standards and static checks (SkillsService)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from devmatrix.v1 import skills_pb2
from gateway import convert
from gateway import models as m
from gateway.deps import ClientsDep
from gateway.errors import problems

router = APIRouter(tags=["skills"])


@router.get(
    "/api/skills", response_model=m.SkillList, responses=problems(), summary="The standards (ListSkills)"
)
async def list_skills(
    clients: ClientsDep,
    domain: Annotated[str, Query(max_length=100, description="Only this domain (global, backend ...).")] = "",
) -> m.SkillList:
    reply = await clients.skills.ListSkills(skills_pb2.ListSkillsRequest(domain=domain))
    return m.SkillList(skills=[convert.skill(s) for s in reply.skills])


@router.post(
    "/api/skills/check",
    response_model=m.CheckResult,
    responses=problems(413),
    summary="Check files against the standards (Validate)",
)
async def check(body: m.CheckBody, clients: ClientsDep) -> m.CheckResult:
    """Static analysis of the files given: findings per skill, scores and pass/fail. Bad
    paths (absolute, `..`, duplicates) and unknown skills are 400 naming the field."""
    reply = await clients.skills.Validate(
        skills_pb2.ValidateRequest(
            files=[convert.file_to_pb(f) for f in body.files], skills=body.skills, task_id=body.task_id or ""
        )
    )
    return convert.check_result(reply)
