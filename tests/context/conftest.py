"""The context service over real gRPC: a real orchestrator (PostgreSQL), patterns and skills
servers (fakes with content, slow fakes, or the UNIMPLEMENTED placeholders), and the
context service told their addresses."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import context_pb2_grpc, patterns_pb2_grpc, skills_pb2_grpc
from services.context.app import build as build_context
from tests.context.fakes import FakePatterns, FakeSkills, fake_app
from tests.fixtures.mesh import Orchestrator


@dataclasses.dataclass
class ContextMesh:
    orchestrator: Orchestrator
    server: RunningServer
    stub: context_pb2_grpc.ContextServiceStub
    patterns: FakePatterns | None
    skills: FakeSkills | None


StartContext = Callable[..., Awaitable[ContextMesh]]


@pytest_asyncio.fixture
async def start_context(orchestrator: Orchestrator) -> AsyncIterator[StartContext]:
    """start_context(patterns=FakePatterns() | None, skills=FakeSkills() | None, **settings):
    None serves a server whose every RPC answers UNIMPLEMENTED (the generated base servicer)."""
    servers: list[RunningServer] = []
    channels: list[Any] = []

    async def start(
        patterns: FakePatterns | None = None,
        skills: FakeSkills | None = None,
        orchestrator_addr: str | None = None,
        **overrides: Any,
    ) -> ContextMesh:
        settings = orchestrator.settings
        p = await start_server(
            fake_app("patterns", patterns or patterns_pb2_grpc.PatternsServiceServicer()),
            settings,
            "patterns",
            port=0,
            metrics_port=0,
        )
        s = await start_server(
            fake_app("skills", skills or skills_pb2_grpc.SkillsServiceServicer()),
            settings,
            "skills",
            port=0,
            metrics_port=0,
        )
        servers.extend([p, s])
        ctx_settings = dataclasses.replace(
            settings,
            addrs={
                "orchestrator": orchestrator_addr or orchestrator.server.address,
                "patterns": p.address,
                "skills": s.address,
            },
            **overrides,
        )
        server = await start_server(build_context, ctx_settings, "context", port=0, metrics_port=0)
        servers.append(server)
        channel = open_channel(server.address, 10.0)
        channels.append(channel)
        return ContextMesh(
            orchestrator, server, context_pb2_grpc.ContextServiceStub(channel), patterns, skills
        )

    try:
        yield start
    finally:
        for channel in channels:
            await channel.close()
        for server in reversed(servers):
            await server.stop(0)
