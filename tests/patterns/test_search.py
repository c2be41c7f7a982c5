"""Hybrid search, filters, thresholds, similar tasks and recommendations on real embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.runtime.errors import InvalidArgument
from services.patterns import learning
from services.patterns.domain import Pattern
from services.patterns.library import load_library, sync_library
from services.patterns.runtime import PatternsRuntime
from services.patterns.search import SearchQuery, recommended, search_patterns, similar_tasks
from tests.patterns.conftest import sample_library


@pytest.fixture
async def library_rt(rt: PatternsRuntime, tmp_path: Path) -> PatternsRuntime:
    await sync_library(rt, load_library(sample_library(tmp_path / "lib")))
    return rt


async def names(rt: PatternsRuntime, query: str, **kw: object) -> list[str]:
    return [m.pattern.name for m in await search_patterns(rt, SearchQuery(query=query, **kw))]  # type: ignore[arg-type]


async def test_jwt_login_ranks_auth_above_css(library_rt: PatternsRuntime) -> None:
    matches = await search_patterns(library_rt, SearchQuery(query="user login with JWT"))
    order = [m.pattern.name for m in matches]
    assert order[0] == "jwt-auth-login"
    assert order.index("jwt-auth-login") < order.index("css-grid-layout")
    auth, css = (
        next(m for m in matches if m.pattern.name == n) for n in ("jwt-auth-login", "css-grid-layout")
    )
    assert auth.similarity > css.similarity + 0.2
    # The CSS pattern has the better metadata: only meaning puts auth first.
    assert css.metadata_score > auth.metadata_score
    for m in matches:
        assert m.hybrid_score == pytest.approx(0.7 * m.similarity + 0.3 * m.metadata_score, abs=1e-5)
    assert (await names(library_rt, "SQL table repository with async sessions"))[0] == "sql-repository"


async def test_vector_weight_trades_meaning_for_metadata(library_rt: PatternsRuntime) -> None:
    assert (await names(library_rt, "user login with JWT", vector_weight=1.0))[0] == "jwt-auth-login"
    # Almost all metadata: the perfect-scored CSS pattern wins whatever the query.
    assert (await names(library_rt, "user login with JWT", vector_weight=0.01))[0] == "css-grid-layout"


async def test_filters(library_rt: PatternsRuntime) -> None:
    q = "code"
    assert set(await names(library_rt, q, language="python")) == {"jwt-auth-login", "sql-repository"}
    assert await names(library_rt, q, framework="sqlalchemy") == ["sql-repository"]
    assert await names(library_rt, q, category="security") == ["jwt-auth-login"]
    assert await names(library_rt, q, category="testing") == []
    assert await names(library_rt, q, filters={"tag": "layout"}) == ["css-grid-layout"]
    assert set(await names(library_rt, q, filters={"source": "golden", "category": "database"})) <= {
        "sql-repository"
    }
    # jwt: 0.4*.85 + 0.3*.8 + 0.2*.9 + 0.1*.8 = 0.84; sql: 0.9*.4+.9*.3+.9*.2+.8*.1 = 0.89; css: 1.0
    assert set(await names(library_rt, q, min_score=0.88)) == {"sql-repository", "css-grid-layout"}
    assert set(await names(library_rt, q, production_ready_only=True)) == {
        "jwt-auth-login",
        "sql-repository",
        "css-grid-layout",
    }
    await learning.store_pattern(
        library_rt,
        Pattern(name="weak-draft", category="api", language="python", description="A draft", code="pass"),
    )
    everything = await names(library_rt, q, top_k=50)
    assert "weak-draft" in everything
    assert "weak-draft" not in await names(library_rt, q, production_ready_only=True)
    assert len(await names(library_rt, q, top_k=2)) == 2


async def test_similarity_threshold_applies_to_the_vector_similarity(library_rt: PatternsRuntime) -> None:
    matches = await search_patterns(
        library_rt, SearchQuery(query="user login with JWT", similarity_threshold=0.4)
    )
    assert [m.pattern.name for m in matches] == ["jwt-auth-login"]
    assert all(m.similarity >= 0.4 for m in matches)
    assert await names(library_rt, "user login with JWT", similarity_threshold=0.99) == []


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"query": "x" * 2001}, "query"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": 51}, "top_k"),
        ({"min_score": 1.2}, "min_score"),
        ({"similarity_threshold": -0.1}, "similarity_threshold"),
        ({"vector_weight": 2.0}, "vector_weight"),
        ({"category": "frontend"}, "category"),
        ({"language": "cobol"}, "language"),
        ({"filters": {"colour": "red"}}, "filters.colour"),
        ({"filters": {"tag": ""}}, "filters.tag"),
    ],
)
async def test_bad_search_input_names_the_field(rt: PatternsRuntime, fields: dict, bad: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await search_patterns(rt, SearchQuery(**({"query": "ok"} | fields)))
    assert [v.field for v in caught.value.violations] == [bad]


async def test_similar_tasks(rt: PatternsRuntime) -> None:
    tasks = [
        ("t1", "s1", "Implement JWT login endpoint", "Issue access tokens after password check"),
        ("t2", "s1", "Create users table migration", "Alembic migration for the users table"),
        ("t3", "s2", "Add login with tokens", "Authenticate users and return a bearer token"),
        ("t4", "s2", "Style the landing page", "CSS for the hero section"),
    ]
    for task_id, spec_id, name, description in tasks:
        assert await learning.index_task(rt, task_id, spec_id, "TASK", "api", name, description)
    await learning.index_task(
        rt, "t1", "s1", "TASK", "api", tasks[0][2], tasks[0][3]
    )  # re-index: no duplicate
    found = await similar_tasks(rt, "user login issuing JWT", 2, 0.0, "")
    assert {t.task_id for t in found} == {"t1", "t3"}
    assert found[0].similarity >= found[1].similarity
    others = await similar_tasks(rt, "user login issuing JWT", 5, 0.0, "s1")
    assert others and all(t.spec_id != "s1" for t in others)
    assert [t.task_id for t in await similar_tasks(rt, "user login issuing JWT", 5, 0.9, "")] == []


async def test_recommended(library_rt: PatternsRuntime) -> None:
    python = await recommended(library_rt, "", "python", "", 5)
    assert [p.name for p in python] == ["sql-repository", "jwt-auth-login"]  # by production score
    assert all(p.production_ready for p in python)
    for_api = await recommended(library_rt, "REST API with user authentication", "", "", 1)
    assert [p.name for p in for_api] == ["jwt-auth-login"]
    with pytest.raises(InvalidArgument):
        await recommended(library_rt, "", "", "", -3)


async def test_local_prefilter_agrees_with_qdrant_filters(library_rt: PatternsRuntime) -> None:
    from services.patterns.search import pattern_filter
    from services.patterns.store import PATTERNS, Where

    [vector] = await library_rt.embedder.encode(["user login with JWT"])
    store = library_rt.store
    for where in (
        pattern_filter(language="python"),
        pattern_filter(language="python", ready_only=True, min_score=0.85),
        pattern_filter(category="security"),
        Where(equals=(("tags", "jwt"),)),
        Where(not_equals=(("language", "python"),)),
    ):
        for limit in (1, 2, 50):
            fast = await store.query(PATTERNS, vector, limit, where)
            exact = await store._query(PATTERNS, vector, limit, where.to_qdrant(), None)
            assert [h.id for h in fast] == [h.id for h in exact], where
