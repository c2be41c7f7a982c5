"""Stand-ins for the patterns and skills services, served over real gRPC: realistic content,
an optional delay (a slow store), or UNIMPLEMENTED (the placeholders)."""

from __future__ import annotations

import asyncio
import textwrap
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import AppFactory, ServiceApp
from devmatrix.v1 import patterns_pb2, patterns_pb2_grpc, skills_pb2, skills_pb2_grpc

CODE = textwrap.dedent(
    '''
    from fastapi import APIRouter, Depends, HTTPException, status
    from sqlalchemy.orm import Session

    from app.db import get_session
    from app.models import {name}
    from app.schemas import {name}Create, {name}Read

    router = APIRouter(prefix="/api/v1/{plural}", tags=["{plural}"])


    @router.post("", response_model={name}Read, status_code=status.HTTP_201_CREATED)
    def create_{lower}(payload: {name}Create, session: Session = Depends(get_session)) -> {name}:
        """Create a {lower}; 422 on invalid input, 409 on a duplicate."""
        item = {name}(**payload.model_dump())
        session.add(item)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise HTTPException(status.HTTP_409_CONFLICT, "{lower} already exists") from None
        session.refresh(item)
        return item


    @router.get("/{{item_id}}", response_model={name}Read)
    def get_{lower}(item_id: int, session: Session = Depends(get_session)) -> {name}:
        item = session.get({name}, item_id)
        if item is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "{lower} not found")
        return item


    @router.get("", response_model=list[{name}Read])
    def list_{plural}(limit: int = 50, offset: int = 0, session: Session = Depends(get_session)) -> list[{name}]:
        return session.query({name}).order_by({name}.id).offset(offset).limit(min(limit, 200)).all()
    '''
)
NAMES = ("Project", "Task", "Comment", "Tag", "User", "Label", "Board", "Sprint")


def pattern(i: int) -> patterns_pb2.Pattern:
    name = NAMES[i % len(NAMES)]
    code = CODE.format(name=name, lower=name.lower(), plural=name.lower() + "s")
    return patterns_pb2.Pattern(
        id=f"pattern-{i}",
        name=f"FastAPI CRUD router for {name}",
        category="api",
        language="Python",
        framework="FastAPI",
        description=f"A CRUD router for {name} with validation, 404 and 409 handling and paging.",
        code=code * (1 + i % 2),
        success_rate=0.95 - i * 0.01,
        test_coverage=0.9,
        security_score=0.9,
        observability_score=0.8,
        usage_count=10 + i,
        production_score=0.9,
        production_ready=True,
    )


class FakePatterns(patterns_pb2_grpc.PatternsServiceServicer):
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.usage_bump = 0

    async def SearchPatterns(self, request: Any, context: Any) -> patterns_pb2.SearchPatternsResponse:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        matches = []
        for i in range(request.top_k or 5):
            p = pattern(i)
            p.usage_count += self.usage_bump
            matches.append(patterns_pb2.PatternMatch(pattern=p, similarity=0.8, hybrid_score=0.85 - i * 0.02))
        return patterns_pb2.SearchPatternsResponse(matches=matches)


class FakeSkills(skills_pb2_grpc.SkillsServiceServicer):
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    async def MapTaskToSkills(self, request: Any, context: Any) -> skills_pb2.MapTaskToSkillsResponse:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return skills_pb2.MapTaskToSkillsResponse(
            skills=[
                skills_pb2.Skill(
                    name=name,
                    domain=name.split("-")[0],
                    description=f"The {name} standard.",
                    guidelines=[
                        f"{name} rule {n}: keep functions small, typed and documented; validate every input "
                        f"at the boundary and return precise status codes."
                        for n in range(1, 13)
                    ],
                )
                for name in ("backend-api", "global-validation", "global-error-handling")
            ]
        )


def fake_app(kind: str, servicer: Any) -> AppFactory:
    """`kind` is patterns or skills; the servicer decides what it answers."""

    async def build(settings: Settings, registry: CollectorRegistry) -> ServiceApp:
        if kind == "patterns":

            def register(server: grpc.aio.Server) -> None:
                patterns_pb2_grpc.add_PatternsServiceServicer_to_server(servicer, server)

            return ServiceApp("patterns", "devmatrix.v1.PatternsService", register)

        def register_skills(server: grpc.aio.Server) -> None:
            skills_pb2_grpc.add_SkillsServiceServicer_to_server(servicer, server)

        return ServiceApp("skills", "devmatrix.v1.SkillsService", register_skills)

    return build
