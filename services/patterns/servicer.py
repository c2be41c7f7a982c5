"""PatternsService: protobuf in, domain calls, protobuf out. Errors are domain
exceptions that the shared interceptor maps to status codes."""

from __future__ import annotations

from typing import Any

from devmatrix.v1 import patterns_pb2 as pb
from devmatrix.v1 import patterns_pb2_grpc
from services.patterns import learning, search
from services.patterns.domain import Failure, Pattern, PatternMatch
from services.patterns.runtime import PatternsRuntime


def pattern_to_pb(p: Pattern) -> pb.Pattern:
    return pb.Pattern(
        id=p.id,
        name=p.name,
        category=p.category,
        language=p.language,
        framework=p.framework,
        description=p.description,
        code=p.code,
        success_rate=p.success_rate,
        test_coverage=p.test_coverage,
        security_score=p.security_score,
        observability_score=p.observability_score,
        docker_ready=p.docker_ready,
        usage_count=p.usage_count,
        production_score=p.production_score,
        production_ready=p.production_ready,
        tags=p.tags,
        source=p.source,
    )


def pattern_from_pb(m: pb.Pattern) -> Pattern:
    """The client's pattern; usage_count, production_score and production_ready are the
    service's to compute and are ignored."""
    return Pattern(
        id=m.id,
        name=m.name.strip(),
        category=m.category.strip(),
        language=m.language.strip(),
        framework=m.framework.strip(),
        description=m.description,
        code=m.code,
        success_rate=m.success_rate,
        test_coverage=m.test_coverage,
        security_score=m.security_score,
        observability_score=m.observability_score,
        docker_ready=m.docker_ready,
        tags=list(m.tags),
        source=m.source.strip(),
    )


def match_to_pb(m: PatternMatch) -> pb.PatternMatch:
    return pb.PatternMatch(
        pattern=pattern_to_pb(m.pattern),
        similarity=m.similarity,
        metadata_score=m.metadata_score,
        hybrid_score=m.hybrid_score,
    )


def failure_to_pb(f: Failure) -> pb.Failure:
    return pb.Failure(
        id=f.id, task_id=f.task_id, attempted=f.attempted, error=f.error, lesson=f.lesson, category=f.category
    )


class PatternsServicer(patterns_pb2_grpc.PatternsServiceServicer):
    def __init__(self, rt: PatternsRuntime) -> None:
        self.rt = rt

    async def StorePattern(self, request: pb.StorePatternRequest, context: Any) -> pb.StorePatternResponse:
        stored = await learning.store_pattern(self.rt, pattern_from_pb(request.pattern), request.request_id)
        return pb.StorePatternResponse(pattern=pattern_to_pb(stored))

    async def GetPattern(self, request: pb.GetPatternRequest, context: Any) -> pb.GetPatternResponse:
        return pb.GetPatternResponse(
            pattern=pattern_to_pb(await learning.get_pattern(self.rt, request.pattern_id))
        )

    async def SearchPatterns(
        self, request: pb.SearchPatternsRequest, context: Any
    ) -> pb.SearchPatternsResponse:
        matches = await search.search_patterns(
            self.rt,
            search.SearchQuery(
                query=request.query,
                language=request.language,
                framework=request.framework,
                category=request.category,
                production_ready_only=request.production_ready_only,
                min_score=request.min_score,
                similarity_threshold=request.similarity_threshold,
                top_k=request.top_k,
                vector_weight=request.vector_weight,
                filters=dict(request.filters),
            ),
        )
        return pb.SearchPatternsResponse(matches=[match_to_pb(m) for m in matches])

    async def RecordOutcome(self, request: pb.RecordOutcomeRequest, context: Any) -> pb.RecordOutcomeResponse:
        outcome = await learning.record_outcome(
            self.rt,
            request.pattern_id,
            request.task_id,
            request.success,
            request.validation_score,
            request.request_id,
        )
        return pb.RecordOutcomeResponse(
            pattern=pattern_to_pb(outcome.pattern), promoted=outcome.promoted, demoted=outcome.demoted
        )

    async def StoreSuccessPattern(
        self, request: pb.StoreSuccessPatternRequest, context: Any
    ) -> pb.StoreSuccessPatternResponse:
        stored = await learning.store_success_pattern(
            self.rt,
            task_id=request.task_id,
            spec_id=request.spec_id,
            description=request.description,
            code=request.code,
            language=request.language.strip(),
            framework=request.framework.strip(),
            category=request.category.strip(),
            validation_score=request.validation_score,
            request_id=request.request_id,
        )
        return pb.StoreSuccessPatternResponse(pattern=pattern_to_pb(stored))

    async def IndexTask(self, request: pb.IndexTaskRequest, context: Any) -> pb.IndexTaskResponse:
        indexed = await learning.index_task(
            self.rt,
            request.task_id,
            request.spec_id,
            request.task_type,
            request.kind,
            request.name,
            request.description,
        )
        return pb.IndexTaskResponse(indexed=indexed)

    async def FindSimilarTasks(
        self, request: pb.FindSimilarTasksRequest, context: Any
    ) -> pb.FindSimilarTasksResponse:
        tasks = await search.similar_tasks(
            self.rt, request.text, request.top_k, request.similarity_threshold, request.exclude_spec_id
        )
        return pb.FindSimilarTasksResponse(
            tasks=[
                pb.SimilarTask(
                    task_id=t.task_id,
                    spec_id=t.spec_id,
                    name=t.name,
                    description=t.description,
                    similarity=t.similarity,
                    success_rate=t.success_rate,
                )
                for t in tasks
            ]
        )

    async def GetRecommended(
        self, request: pb.GetRecommendedRequest, context: Any
    ) -> pb.GetRecommendedResponse:
        patterns = await search.recommended(
            self.rt, request.spec_type, request.language.strip(), request.framework.strip(), request.top_k
        )
        return pb.GetRecommendedResponse(patterns=[pattern_to_pb(p) for p in patterns])

    async def StoreFailure(self, request: pb.StoreFailureRequest, context: Any) -> pb.StoreFailureResponse:
        f = request.failure
        stored = await learning.store_failure(
            self.rt,
            Failure(
                task_id=f.task_id, attempted=f.attempted, error=f.error, lesson=f.lesson, category=f.category
            ),
            request.request_id,
        )
        return pb.StoreFailureResponse(failure=failure_to_pb(stored))

    async def SearchFailures(
        self, request: pb.SearchFailuresRequest, context: Any
    ) -> pb.SearchFailuresResponse:
        found = await search.search_failures(
            self.rt, request.query, request.top_k, request.similarity_threshold
        )
        return pb.SearchFailuresResponse(
            matches=[pb.FailureMatch(failure=failure_to_pb(f), similarity=s) for f, s in found]
        )
