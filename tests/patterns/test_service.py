"""The patterns service over real gRPC: the good paths, bad input status codes, health,
metrics, restarts on the same storage and the refusal of a malformed library."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devmatrix.cli.mesh import free_port
from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import InvalidArgument
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.stores.embeddings import Embedder
from devmatrix.v1 import patterns_pb2 as pb
from devmatrix.v1 import patterns_pb2_grpc
from services.patterns.app import FULL_NAME, make_build
from tests.integration.rpc import field_violations
from tests.patterns.conftest import pattern_file, sample_library

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Served:
    server: RunningServer
    stub: patterns_pb2_grpc.PatternsServiceStub
    channel: grpc.aio.Channel
    settings: Settings
    library: Path

    def sample(self, name: str) -> float | None:
        return self.server.app.state.metrics.registry.get_sample_value(name)  # type: ignore[union-attr]


async def serve(settings: Settings, library: Path) -> Served:
    server = await start_server(make_build(library), settings, "patterns", port=0, metrics_port=0)
    channel = open_channel(server.address, 30.0)
    return Served(server, patterns_pb2_grpc.PatternsServiceStub(channel), channel, settings, library)


async def shut(served: Served) -> None:
    await served.channel.close()
    await served.server.stop(0)


@pytest_asyncio.fixture(loop_scope="session")
async def patterns(embedder: Embedder, tmp_path: Path) -> AsyncIterator[Served]:
    settings = Settings(data_dir=tmp_path / "data", bind_host="127.0.0.1", health_poll_seconds=0.2)
    served = await serve(settings, sample_library(tmp_path / "library"))
    try:
        yield served
    finally:
        await shut(served)


async def rejected(call, code: grpc.StatusCode) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == code, raised.value.details()
    return raised.value


async def test_search_store_learn_over_grpc(patterns: Served) -> None:
    stub = patterns.stub
    found = await stub.SearchPatterns(pb.SearchPatternsRequest(query="user login with JWT", top_k=3))
    order = [m.pattern.name for m in found.matches]
    assert order[0] == "jwt-auth-login" and order.index("jwt-auth-login") < order.index("css-grid-layout")
    top = found.matches[0]
    assert top.pattern.source == "golden" and top.pattern.production_ready
    assert top.pattern.production_score == pytest.approx(0.84)
    assert top.hybrid_score == pytest.approx(0.7 * top.similarity + 0.3 * top.metadata_score, abs=1e-5)

    stored = await stub.StorePattern(
        pb.StorePatternRequest(
            request_id="p-1",
            pattern=pb.Pattern(
                name="health-endpoint",
                category="observability",
                language="python",
                framework="fastapi",
                description="Liveness and readiness endpoints that check the database",
                code="@app.get('/health')\nasync def health():\n    return {'ok': True}\n",
                success_rate=0.5,
                test_coverage=0.9,
                security_score=0.9,
                observability_score=0.9,
            ),
        )
    )
    assert stored.pattern.id and stored.pattern.source == "custom" and not stored.pattern.production_ready
    got = await stub.GetPattern(pb.GetPatternRequest(pattern_id=stored.pattern.id))
    assert got.pattern == stored.pattern

    flags = []
    for i in range(5):
        outcome = await stub.RecordOutcome(
            pb.RecordOutcomeRequest(
                request_id=f"o-{i}", pattern_id=stored.pattern.id, task_id="t1", success=True
            )
        )
        flags.append(outcome.promoted)
    assert flags == [False, False, False, False, True] and outcome.pattern.production_ready
    retry = await stub.RecordOutcome(
        pb.RecordOutcomeRequest(request_id="o-4", pattern_id=stored.pattern.id, task_id="t1", success=True)
    )
    assert retry.promoted and retry.pattern.usage_count == 5

    learned = await stub.StoreSuccessPattern(
        pb.StoreSuccessPatternRequest(
            request_id="s-1",
            task_id="t7",
            spec_id="spec",
            description="Rate limiter middleware with a token bucket",
            code="class RateLimiter:\n    ...\n",
            language="python",
            framework="fastapi",
            category="api",
            validation_score=0.9,
        )
    )
    assert learned.pattern.source == "learned"
    recommended = await stub.GetRecommended(pb.GetRecommendedRequest(language="python", top_k=10))
    assert {"jwt-auth-login", "sql-repository", "health-endpoint", learned.pattern.name} <= {
        p.name for p in recommended.patterns
    }

    failure = await stub.StoreFailure(
        pb.StoreFailureRequest(
            request_id="f-1",
            failure=pb.Failure(
                task_id="t8",
                attempted="Called the payment API without a timeout",
                error="worker hung for 10 minutes",
                lesson="Set a deadline on every outgoing HTTP call",
                category="error-handling",
            ),
        )
    )
    assert failure.failure.id
    lessons = await stub.SearchFailures(pb.SearchFailuresRequest(query="requests to external service hang"))
    assert lessons.matches[0].failure.lesson.startswith("Set a deadline")

    await stub.IndexTask(pb.IndexTaskRequest(task_id="t1", spec_id="s1", name="JWT login endpoint"))
    await stub.IndexTask(pb.IndexTaskRequest(task_id="t2", spec_id="s1", name="Dockerfile for the API"))
    similar = await stub.FindSimilarTasks(pb.FindSimilarTasksRequest(text="token based sign in", top_k=1))
    assert [t.task_id for t in similar.tasks] == ["t1"]

    assert (patterns.sample("devmatrix_embeddings_total") or 0) >= 10
    assert patterns.sample("devmatrix_embedding_failures_total") == 0
    assert patterns.sample("devmatrix_pattern_search_seconds_count") == 1
    registry = patterns.server.app.state.metrics.registry  # type: ignore[union-attr]
    for source, count in (("golden", 3), ("custom", 1), ("learned", 1)):
        assert registry.get_sample_value("devmatrix_patterns_stored_total", {"source": source}) == count


BAD = [
    ("SearchPatterns", pb.SearchPatternsRequest(query=""), "query"),
    ("SearchPatterns", pb.SearchPatternsRequest(query="q" * 2001), "query"),
    ("SearchPatterns", pb.SearchPatternsRequest(query="ok", top_k=-1), "top_k"),
    (
        "SearchPatterns",
        pb.SearchPatternsRequest(query="ok", similarity_threshold=1.5),
        "similarity_threshold",
    ),
    ("SearchPatterns", pb.SearchPatternsRequest(query="ok", min_score=-0.5), "min_score"),
    ("SearchPatterns", pb.SearchPatternsRequest(query="ok", category="frontend"), "category"),
    ("SearchPatterns", pb.SearchPatternsRequest(query="ok", filters={"colour": "red"}), "filters.colour"),
    (
        "SearchPatterns",
        pb.SearchPatternsRequest(query="ok", filters={"language": "cobol"}),
        "filters.language",
    ),
    ("StorePattern", pb.StorePatternRequest(pattern=pb.Pattern(name="x")), "pattern.category"),
    ("RecordOutcome", pb.RecordOutcomeRequest(pattern_id=""), "pattern_id"),
    (
        "RecordOutcome",
        pb.RecordOutcomeRequest(pattern_id="jwt-auth-login", validation_score=2),
        "validation_score",
    ),
    (
        "StoreSuccessPattern",
        pb.StoreSuccessPatternRequest(task_id="t", code="x", language="python"),
        "description",
    ),
    ("StoreFailure", pb.StoreFailureRequest(failure=pb.Failure(error="boom")), "failure.lesson"),
    ("SearchFailures", pb.SearchFailuresRequest(query=" "), "query"),
    ("FindSimilarTasks", pb.FindSimilarTasksRequest(text="x", top_k=100), "top_k"),
    ("IndexTask", pb.IndexTaskRequest(name="no id"), "task_id"),
    ("GetRecommended", pb.GetRecommendedRequest(language="cobol"), "language"),
]


@pytest.mark.parametrize(("method", "request_", "field"), BAD, ids=[f"{m}-{f}" for m, _, f in BAD])
async def test_bad_input_is_invalid_argument_naming_the_field(
    patterns: Served, method: str, request_: object, field: str
) -> None:
    before = await patterns.stub.SearchPatterns(pb.SearchPatternsRequest(query="anything", top_k=50))
    error = await rejected(getattr(patterns.stub, method)(request_), grpc.StatusCode.INVALID_ARGUMENT)
    assert field in field_violations(error)
    after = await patterns.stub.SearchPatterns(pb.SearchPatternsRequest(query="anything", top_k=50))
    assert after == before  # nothing stored or changed


async def test_unknown_pattern_is_not_found(patterns: Served) -> None:
    for call in (
        patterns.stub.GetPattern(pb.GetPatternRequest(pattern_id="no-such-pattern")),
        patterns.stub.GetPattern(pb.GetPatternRequest(pattern_id="8a7f2f4e-2b8f-4bb5-9c7a-52f2d1c2b9a0")),
        patterns.stub.RecordOutcome(pb.RecordOutcomeRequest(pattern_id="no-such-pattern", success=True)),
    ):
        error = await rejected(call, grpc.StatusCode.NOT_FOUND)
        assert "no-such-pattern" in (error.details() or "") or "8a7f2f4e" in (error.details() or "")


async def test_health_is_serving_when_model_and_qdrant_answer(patterns: Served) -> None:
    health = health_pb2_grpc.HealthStub(patterns.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=FULL_NAME), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert await patterns.server.app.ready()


async def test_restart_keeps_state_without_duplicating_the_library(
    embedder: Embedder, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", bind_host="127.0.0.1")
    library = sample_library(tmp_path / "library")
    first = await serve(settings, library)
    try:
        outcome = await first.stub.RecordOutcome(
            pb.RecordOutcomeRequest(pattern_id="sql-repository", success=True, request_id="once")
        )
        assert outcome.pattern.usage_count == 1
    finally:
        await shut(first)
    second = await serve(settings, library)
    try:
        everything = await second.stub.SearchPatterns(pb.SearchPatternsRequest(query="code", top_k=50))
        assert sorted(m.pattern.name for m in everything.matches) == [
            "css-grid-layout",
            "jwt-auth-login",
            "sql-repository",
        ]
        got = await second.stub.GetPattern(pb.GetPatternRequest(pattern_id="sql-repository"))
        assert got.pattern.usage_count == 1
        assert second.server.app.state.metrics.registry.get_sample_value(  # type: ignore[union-attr]
            "devmatrix_patterns_stored_total", {"source": "golden"}
        ) in (None, 0)
    finally:
        await shut(second)


async def test_malformed_library_refuses_to_start(embedder: Embedder, tmp_path: Path) -> None:
    library = sample_library(tmp_path / "library")
    bad = pattern_file(
        library / "security",
        {
            "name": "broken",
            "category": "security",
            "language": "python",
            "description": "d",
            "code": "c",
            "success_rate": "high",
        },
    )
    settings = Settings(data_dir=tmp_path / "data", bind_host="127.0.0.1")
    with pytest.raises(InvalidArgument) as caught:
        await start_server(make_build(library), settings, "patterns", port=0, metrics_port=0)
    assert caught.value.violations[0].field == f"{bad}:success_rate"
    # The process entry point says so in one line, without a traceback.
    env = os.environ | {
        "PATTERN_LIBRARY_DIR": str(library),
        "DEVMATRIX_DATA_DIR": str(tmp_path / "proc"),
        "PATTERNS_PORT": str(free_port()),
        "PATTERNS_METRICS_PORT": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.patterns",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert process.returncode == 2
    assert len(lines) == 1 and f"{bad}" in lines[0] and "success_rate" in lines[0], lines
