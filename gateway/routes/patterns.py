"""Pattern search (PatternsService)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from devmatrix.v1 import patterns_pb2
from gateway import convert
from gateway import models as m
from gateway.deps import ClientsDep
from gateway.errors import problems

router = APIRouter(tags=["patterns"])


@router.get(
    "/api/patterns/similar",
    response_model=m.PatternSearch,
    responses=problems(),
    summary="Patterns like a text: hybrid vector + metadata search (SearchPatterns)",
)
async def similar_patterns(
    clients: ClientsDep,
    q: Annotated[str, Query(min_length=1, max_length=10_000, description="What the code should do.")],
    top_k: Annotated[int, Query(ge=1, le=100)] = 5,
    category: Annotated[str, Query(max_length=100)] = "",
    language: Annotated[str, Query(max_length=100)] = "",
    framework: Annotated[str, Query(max_length=100)] = "",
    production_ready_only: bool = False,
    min_score: Annotated[float, Query(ge=0, le=1, description="Minimum production score.")] = 0.0,
    similarity_threshold: Annotated[float, Query(ge=0, le=1)] = 0.0,
) -> m.PatternSearch:
    reply = await clients.patterns.SearchPatterns(
        patterns_pb2.SearchPatternsRequest(
            query=q,
            top_k=top_k,
            category=category,
            language=language,
            framework=framework,
            production_ready_only=production_ready_only,
            min_score=min_score,
            similarity_threshold=similarity_threshold,
        )
    )
    return m.PatternSearch(
        query=q,
        matches=[
            m.PatternMatch(
                pattern=convert.pattern(x.pattern),
                similarity=x.similarity,
                metadata_score=x.metadata_score,
                hybrid_score=x.hybrid_score,
            )
            for x in reply.matches
        ],
    )
