"""ContextService: protobuf in, domain calls, protobuf out. Errors are domain exceptions
that the shared interceptor maps to status codes."""

from __future__ import annotations

import uuid
from typing import Any

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from devmatrix.v1 import context_pb2 as pb
from devmatrix.v1 import context_pb2_grpc
from services.context.assembly import Assembled
from services.context.levels import Level
from services.context.service import Comparison, ContextService

LEVEL_FROM_PB = {
    pb.CONTEXT_LEVEL_UNSPECIFIED: Level.STANDARD,
    pb.CONTEXT_LEVEL_MINIMAL: Level.MINIMAL,
    pb.CONTEXT_LEVEL_STANDARD: Level.STANDARD,
    pb.CONTEXT_LEVEL_EXTENDED: Level.EXTENDED,
}
LEVEL_TO_PB = {
    Level.MINIMAL: pb.CONTEXT_LEVEL_MINIMAL,
    Level.STANDARD: pb.CONTEXT_LEVEL_STANDARD,
    Level.EXTENDED: pb.CONTEXT_LEVEL_EXTENDED,
}


def task_id_of(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        what = "is required" if not value else f"{value[:80]!r} is not a UUID"
        raise InvalidArgument(f"task_id {what}", [FieldViolation("task_id", "a task UUID")]) from None


def level_of(value: int) -> Level:
    if value not in LEVEL_FROM_PB:
        raise InvalidArgument(
            f"level {value} does not exist",
            [FieldViolation("level", "one of CONTEXT_LEVEL_MINIMAL, _STANDARD, _EXTENDED (unset: standard)")],
        )
    return LEVEL_FROM_PB[value]


def context_to_pb(a: Assembled) -> pb.GetContextResponse:
    return pb.GetContextResponse(
        task_id=a.task_id,
        level=LEVEL_TO_PB[Level(a.level)],
        text=a.text,
        sections=[
            pb.ContextSection(
                name=s.name,
                content=s.content,
                bytes=s.bytes,
                tokens=s.tokens,
                trimmed=s.trimmed,
                degraded=s.degraded,
                priority=s.priority,
            )
            for s in a.sections
        ],
        total_bytes=a.total_bytes,
        token_count=a.token_count,
        token_counter=a.token_counter,
        trimmed_sections=a.trimmed_sections,
        degraded_sections=a.degraded_sections,
        dropped_sections=a.dropped_sections,
        cache_hit=a.cache_hit,
        budget_bytes=a.budget_bytes,
    )


def comparison_to_pb(c: Comparison) -> pb.CompareWithFullMarkdownResponse:
    return pb.CompareWithFullMarkdownResponse(
        context_tokens=c.context.token_count,
        full_markdown_tokens=c.full_markdown_tokens,
        reduction=c.reduction,
        task_id=c.task.id,
        task_key=c.task.key,
        task_name=c.task.name,
        level=LEVEL_TO_PB[c.level],
        context_bytes=c.context.total_bytes,
        full_markdown_bytes=c.full_markdown_bytes,
        byte_reduction=c.byte_reduction,
        facts=[
            pb.RequiredFact(
                kind=f.kind, value=f.value, in_context=f.in_context, in_full_markdown=f.in_full_markdown
            )
            for f in c.facts
        ],
        all_facts_present=c.all_facts_present,
        token_counter=c.context.token_counter,
        degraded_sections=c.context.degraded_sections,
    )


class ContextServicer(context_pb2_grpc.ContextServiceServicer):
    def __init__(self, service: ContextService) -> None:
        self.service = service

    async def GetContext(self, request: pb.GetContextRequest, context: Any) -> pb.GetContextResponse:
        level = level_of(request.level)
        assembled = await self.service.get_context(
            task_id_of(request.task_id), level, request.bypass_cache, context.time_remaining()
        )
        return context_to_pb(assembled)

    async def CompareWithFullMarkdown(
        self, request: pb.CompareWithFullMarkdownRequest, context: Any
    ) -> pb.CompareWithFullMarkdownResponse:
        level = level_of(request.level)
        comparison = await self.service.compare(task_id_of(request.task_id), level, context.time_remaining())
        return comparison_to_pb(comparison)

    async def InvalidateContext(
        self, request: pb.InvalidateContextRequest, context: Any
    ) -> pb.InvalidateContextResponse:
        return pb.InvalidateContextResponse(
            invalidated=await self.service.invalidate(task_id_of(request.task_id))
        )
