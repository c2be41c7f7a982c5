"""Hybrid pattern search, similar tasks, recommendations and failure search.

Hybrid score of a pattern for a query:

    hybrid = w * similarity + (1 - w) * metadata_relevance

- w: the request's vector_weight, or Settings.pattern_vector_weight (0.7) when 0.
- similarity: the cosine similarity of the query and pattern embeddings, clamped to 0..1.
- metadata_relevance = 0.6 * production_score + 0.4 * success_rate * confidence, where
  confidence = min(1, ln(1 + usage_count) / ln(51)) grows with observed uses and reaches
  1 at 50 uses: a pattern proven in use outranks an equally scored one never tried.

Filters (language, framework, category, production_ready_only, min_score on the
production score) go to Qdrant with the query; similarity_threshold applies to the
vector similarity alone. Qdrant returns the most similar candidates (4 x top_k, at
least 40), which are re-ranked by the hybrid score and cut to top_k (default 5, max 50).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from services.patterns import records
from services.patterns.domain import (
    Failure,
    Pattern,
    PatternMatch,
    SimilarTask,
    check_category,
    check_framework,
    check_language,
    check_query,
    check_text,
    check_top_k,
    check_unit,
    invalid,
)
from services.patterns.runtime import PatternsRuntime
from services.patterns.store import FAILURES, PATTERNS, TASKS, Where

METADATA_SCORE_SHARE = 0.6
CONFIDENT_USES = 50
MIN_CANDIDATES = 40


@dataclass
class SearchQuery:
    query: str
    language: str = ""
    framework: str = ""
    category: str = ""
    production_ready_only: bool = False
    min_score: float = 0.0
    similarity_threshold: float = 0.0
    top_k: int = 0
    vector_weight: float = 0.0
    filters: dict[str, str] = field(default_factory=dict)

    def checked(self, default_weight: float) -> SearchQuery:
        """The query with defaults applied; InvalidArgument naming the first bad field."""
        weight = check_unit(self.vector_weight, "vector_weight") or default_weight
        return SearchQuery(
            query=check_query(self.query),
            language=check_language(self.language),
            framework=check_framework(self.framework),
            category=check_category(self.category),
            production_ready_only=self.production_ready_only,
            min_score=check_unit(self.min_score, "min_score"),
            similarity_threshold=check_unit(self.similarity_threshold, "similarity_threshold"),
            top_k=check_top_k(self.top_k),
            vector_weight=weight,
            filters=check_filters(self.filters),
        )


# Filter field names a client may use -> the payload field they match.
FILTER_FIELDS = {
    "language": "language",
    "framework": "framework",
    "category": "category",
    "source": "source",
    "tag": "tags",
}
FILTER_CHECKS = {"language": check_language, "framework": check_framework, "category": check_category}


def check_filters(filters: dict[str, str]) -> dict[str, str]:
    """Payload conditions by payload field; an unknown field name is refused by name."""
    checked: dict[str, str] = {}
    for name, value in sorted(filters.items()):
        if name not in FILTER_FIELDS:
            raise invalid(f"filters.{name}", f"unknown filter field; one of {', '.join(FILTER_FIELDS)}")
        check = FILTER_CHECKS.get(name)
        checked[FILTER_FIELDS[name]] = (
            check(value, f"filters.{name}") if check else check_text(value, f"filters.{name}", 100)
        )
    return checked


def confidence(usage_count: int) -> float:
    return min(1.0, math.log1p(max(0, usage_count)) / math.log1p(CONFIDENT_USES))


def metadata_relevance(payload: dict[str, Any]) -> float:
    score = float(payload.get("production_score", 0.0))
    rate = float(payload.get("success_rate", 0.0))
    uses = int(payload.get("usage_count", 0))
    return METADATA_SCORE_SHARE * score + (1 - METADATA_SCORE_SHARE) * rate * confidence(uses)


def pattern_filter(
    language: str = "",
    framework: str = "",
    category: str = "",
    ready_only: bool = False,
    min_score: float = 0.0,
    extra: dict[str, str] | None = None,
) -> Where:
    equals: list[tuple[str, Any]] = [
        (k, v) for k, v in (("language", language), ("framework", framework), ("category", category)) if v
    ]
    equals += sorted((extra or {}).items())
    if ready_only:
        equals.append(("production_ready", True))
    return Where(equals=tuple(equals), at_least=(("production_score", min_score),) if min_score > 0 else ())


async def search_patterns(rt: PatternsRuntime, request: SearchQuery) -> list[PatternMatch]:
    q = request.checked(rt.vector_weight)
    started = time.perf_counter()
    try:
        [vector] = await rt.embedder.encode([q.query])
        hits = await rt.store.query(
            PATTERNS,
            vector,
            limit=max(q.top_k * 4, MIN_CANDIDATES),
            where=pattern_filter(
                q.language, q.framework, q.category, q.production_ready_only, q.min_score, q.filters
            ),
            threshold=q.similarity_threshold or None,
        )
        return rank(hits, q.vector_weight, q.top_k)
    finally:
        rt.metrics.search_seconds.observe(time.perf_counter() - started)


def rank(hits: list[Any], weight: float, top_k: int) -> list[PatternMatch]:
    found = []
    for hit in hits:
        similarity = min(1.0, max(0.0, hit.score))
        meta = metadata_relevance(hit.payload)
        found.append(
            PatternMatch(
                pattern=records.pattern_from_payload(hit.id, hit.payload),
                similarity=round(similarity, 6),
                metadata_score=round(meta, 6),
                hybrid_score=round(weight * similarity + (1 - weight) * meta, 6),
            )
        )
    found.sort(key=lambda m: (-m.hybrid_score, m.pattern.name))
    return found[:top_k]


async def recommended(
    rt: PatternsRuntime, spec_type: str, language: str, framework: str, top_k: int
) -> list[Pattern]:
    """Production-ready patterns for a stack: ranked by hybrid score against the spec type
    when one is given, else by metadata relevance among the highest production scores."""
    spec_type = check_text(spec_type, "spec_type", 200, required=False)
    language, framework = check_language(language), check_framework(framework)
    top_k = check_top_k(top_k)
    if spec_type:
        matches = await search_patterns(
            rt,
            SearchQuery(
                query=spec_type,
                language=language,
                framework=framework,
                production_ready_only=True,
                top_k=top_k,
            ),
        )
        return [m.pattern for m in matches]
    hits = await rt.store.scroll(
        PATTERNS,
        pattern_filter(language, framework, ready_only=True),
        limit=max(top_k * 4, MIN_CANDIDATES),
        order_by="production_score",
    )
    hits.sort(key=lambda h: (-metadata_relevance(h.payload), h.payload.get("name", "")))
    return [records.pattern_from_payload(h.id, h.payload) for h in hits[:top_k]]


async def similar_tasks(
    rt: PatternsRuntime, text: str, top_k: int, threshold: float, exclude_spec_id: str
) -> list[SimilarTask]:
    text = check_query(text, "text")
    top_k = check_top_k(top_k)
    threshold = check_unit(threshold, "similarity_threshold")
    exclude_spec_id = check_text(exclude_spec_id, "exclude_spec_id", 128, required=False)
    [vector] = await rt.embedder.encode([text])
    hits = await rt.store.query(
        TASKS,
        vector,
        limit=top_k,
        where=Where(not_equals=(("spec_id", exclude_spec_id),) if exclude_spec_id else ()),
        threshold=threshold or None,
    )
    return [
        SimilarTask(
            task_id=h.payload.get("task_id", ""),
            spec_id=h.payload.get("spec_id", ""),
            name=h.payload.get("name", ""),
            description=h.payload.get("description", ""),
            similarity=round(min(1.0, max(0.0, h.score)), 6),
            success_rate=float(h.payload.get("success_rate", 0.0)),
        )
        for h in hits
    ]


async def search_failures(
    rt: PatternsRuntime, query: str, top_k: int, threshold: float
) -> list[tuple[Failure, float]]:
    query = check_query(query)
    top_k = check_top_k(top_k)
    threshold = check_unit(threshold, "similarity_threshold")
    [vector] = await rt.embedder.encode([query])
    hits = await rt.store.query(FAILURES, vector, limit=top_k, threshold=threshold or None)
    return [
        (records.failure_from_payload(h.id, h.payload), round(min(1.0, max(0.0, h.score)), 6)) for h in hits
    ]
