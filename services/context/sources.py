"""gRPC clients of the services context is assembled from, each call with a deadline.

The orchestrator is required: its errors pass through (NOT_FOUND, INVALID_ARGUMENT) or
become UNAVAILABLE. Patterns and skills are optional: a circuit breaker around each, and
any failure (down, slow, UNIMPLEMENTED, breaker open) is `None`, i.e. a degraded section.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from purgatory import AsyncCircuitBreakerFactory

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import Unavailable
from devmatrix.runtime.logging import get_logger
from devmatrix.runtime.upstream import upstream_error
from devmatrix.v1 import (
    common_pb2,
    orchestrator_pb2,
    orchestrator_pb2_grpc,
    patterns_pb2,
    patterns_pb2_grpc,
    skills_pb2,
    skills_pb2_grpc,
)

log = get_logger("devmatrix.context.sources")
T = TypeVar("T")

ORCHESTRATOR = "devmatrix.v1.OrchestratorService"
IDEMPOTENT = (
    *((ORCHESTRATOR, m) for m in ("GetTask", "GetSpec", "GetTaskTree")),
    ("devmatrix.v1.PatternsService", "SearchPatterns"),
    ("devmatrix.v1.SkillsService", "MapTaskToSkills"),
)
# An optional source gets at most this long, and at most half of what the caller has left.
OPTIONAL_TIMEOUT_S = 1.0
BREAKER_THRESHOLD = 3
BREAKER_OPEN_S = 15
TREE_PAGE = 2000


class Deadline:
    """The caller's deadline (absolute, on the event loop's clock)."""

    def __init__(self, seconds: float) -> None:
        self._at = asyncio.get_running_loop().time() + seconds

    def remaining(self) -> float:
        return self._at - asyncio.get_running_loop().time()

    def required(self) -> float:
        """Timeout for a required call: what is left, minus a margin to answer."""
        left = self.remaining() - 0.05
        if left <= 0:
            raise Unavailable("deadline exceeded before the orchestrator was asked")
        return left

    def optional(self) -> float:
        return max(0.01, min(OPTIONAL_TIMEOUT_S, self.remaining() * 0.5))


@dataclass
class TaskView:
    """GetTask's answer: the task, its dependencies, dependents and parent."""

    task: common_pb2.Task
    dependencies: list[common_pb2.Task]
    dependents: list[common_pb2.Task]
    parent: common_pb2.Task | None


class Sources:
    def __init__(self, settings: Settings) -> None:
        def channel(name: str) -> grpc.aio.Channel:
            return open_channel(
                settings.addr(name), settings.grpc_deadline_seconds, IDEMPOTENT, settings.max_message_bytes
            )

        self._channels = {name: channel(name) for name in ("orchestrator", "patterns", "skills")}
        self.orchestrator = orchestrator_pb2_grpc.OrchestratorServiceStub(self._channels["orchestrator"])
        self.patterns = patterns_pb2_grpc.PatternsServiceStub(self._channels["patterns"])
        self.skills = skills_pb2_grpc.SkillsServiceStub(self._channels["skills"])
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=BREAKER_THRESHOLD, default_ttl=BREAKER_OPEN_S
        )

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._channels.values()))

    # -- required: the orchestrator --------------------------------------------------------

    async def _required(self, call: Callable[[float], Awaitable[T]], deadline: Deadline) -> T:
        try:
            return await call(deadline.required())
        except grpc.aio.AioRpcError as error:
            raise upstream_error(error, "orchestrator", "task") from None

    async def task(self, task_id: str, deadline: Deadline) -> TaskView:
        got = await self._required(
            lambda t: self.orchestrator.GetTask(orchestrator_pb2.GetTaskRequest(task_id=task_id), timeout=t),
            deadline,
        )
        return TaskView(
            task=got.task,
            dependencies=list(got.dependencies),
            dependents=list(got.dependents),
            parent=got.parent if got.HasField("parent") and got.parent.id else None,
        )

    async def spec(self, spec_id: str, deadline: Deadline) -> orchestrator_pb2.GetSpecResponse:
        return await self._required(
            lambda t: self.orchestrator.GetSpec(orchestrator_pb2.GetSpecRequest(spec_id=spec_id), timeout=t),
            deadline,
        )

    async def all_tasks(self, spec_id: str, deadline: Deadline) -> list[common_pb2.Task]:
        """Every node of a spec's task tree (all pages)."""
        found: list[common_pb2.Task] = []
        token = ""
        while True:
            request = orchestrator_pb2.GetTaskTreeRequest(
                spec_id=spec_id, page_size=TREE_PAGE, page_token=token
            )
            page = await self._required(
                lambda t, r=request: self.orchestrator.GetTaskTree(r, timeout=t), deadline
            )
            found.extend(page.tasks)
            token = page.next_page_token
            if not token:
                return found

    async def wave(
        self, spec_id: str, wave: int, limit: int, deadline: Deadline
    ) -> tuple[list[common_pb2.Task], int]:
        """Up to `limit` tasks of one wave, and how many the wave holds."""
        request = orchestrator_pb2.GetTaskTreeRequest(
            spec_id=spec_id, page_size=limit, has_wave=True, wave=wave, type=common_pb2.TASK_TYPE_TASK
        )
        page = await self._required(lambda t: self.orchestrator.GetTaskTree(request, timeout=t), deadline)
        return list(page.tasks), page.total_size

    # -- optional: patterns and skills behind circuit breakers ----------------------------

    async def _optional(
        self, circuit: str, call: Callable[[float], Awaitable[T]], deadline: Deadline
    ) -> T | None:
        try:
            breaker = await self.breakers.get_breaker(circuit)
            async with breaker:
                return await call(deadline.optional())
        except grpc.aio.AioRpcError as error:
            log.info("optional_source_failed", source=circuit, grpc_code=error.code().name)
        except Exception as error:  # breaker open (purgatory's OpenedState), cancelled channel, ...
            log.info("optional_source_skipped", source=circuit, reason=type(error).__name__)
        return None

    async def search_patterns(
        self, query: str, top_k: int, deadline: Deadline
    ) -> patterns_pb2.SearchPatternsResponse | None:
        request = patterns_pb2.SearchPatternsRequest(query=query, top_k=top_k)
        return await self._optional(
            "patterns", lambda t: self.patterns.SearchPatterns(request, timeout=t), deadline
        )

    async def map_skills(
        self, task: common_pb2.Task, deadline: Deadline
    ) -> skills_pb2.MapTaskToSkillsResponse | None:
        request = skills_pb2.MapTaskToSkillsRequest(
            task_id=task.id,
            kind=task.kind,
            name=task.name,
            description=task.description,
            required_skills=task.required_skills,
        )
        return await self._optional(
            "skills", lambda t: self.skills.MapTaskToSkills(request, timeout=t), deadline
        )
