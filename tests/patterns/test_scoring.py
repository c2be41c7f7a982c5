"""The production score, metadata relevance and hybrid ranking formulas."""

from __future__ import annotations

import pytest

from services.patterns.domain import READY_THRESHOLD, Pattern, production_score
from services.patterns.records import success_rate
from services.patterns.search import confidence, metadata_relevance, rank
from services.patterns.store import Hit


def test_production_score_weights() -> None:
    assert production_score(1, 0, 0, 0) == pytest.approx(0.4)
    assert production_score(0, 1, 0, 0) == pytest.approx(0.3)
    assert production_score(0, 0, 1, 0) == pytest.approx(0.2)
    assert production_score(0, 0, 0, 1) == pytest.approx(0.1)
    assert production_score(0.95, 0.9, 0.9, 0.8) == pytest.approx(0.38 + 0.27 + 0.18 + 0.08)


def test_ready_at_080() -> None:
    assert READY_THRESHOLD == 0.80
    ready = Pattern(name="a", category="api", language="python", description="d", code="c")
    ready.success_rate, ready.test_coverage, ready.security_score, ready.observability_score = (
        0.8,
        0.8,
        0.8,
        0.8,
    )
    assert ready.production_score == pytest.approx(0.8) and ready.production_ready
    ready.observability_score = 0.79
    assert not ready.production_ready


def test_success_rate_is_a_running_mean_with_a_prior() -> None:
    assert success_rate(0.5, 10, 0, 0) == 0.5
    assert success_rate(0.5, 10, 10, 10) == pytest.approx(0.75)
    assert success_rate(0.0, 0, 4, 3) == pytest.approx(0.75)


def test_metadata_relevance_rewards_score_and_proven_use() -> None:
    assert confidence(0) == 0 and confidence(50) == pytest.approx(1) and confidence(500) == 1
    unused = {"production_score": 0.9, "success_rate": 0.9, "usage_count": 0}
    proven = unused | {"usage_count": 50}
    assert metadata_relevance(unused) == pytest.approx(0.54)
    assert metadata_relevance(proven) == pytest.approx(0.54 + 0.4 * 0.9)


def test_hybrid_ordering_follows_the_weight() -> None:
    similar_weak = Hit("1", 0.9, {"name": "similar", "production_score": 0.2, "success_rate": 0.2})
    distant_strong = Hit(
        "2", 0.5, {"name": "strong", "production_score": 1.0, "success_rate": 1.0, "usage_count": 100}
    )
    by_vector = rank([similar_weak, distant_strong], 0.9, 5)
    assert [m.pattern.name for m in by_vector] == ["similar", "strong"]
    by_metadata = rank([similar_weak, distant_strong], 0.2, 5)
    assert [m.pattern.name for m in by_metadata] == ["strong", "similar"]
    top = by_vector[0]
    assert top.hybrid_score == pytest.approx(0.9 * 0.9 + 0.1 * top.metadata_score)
    assert len(rank([similar_weak, distant_strong], 0.7, 1)) == 1
