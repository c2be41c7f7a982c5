"""Patterns benchmarks on the embedded backends (qdrant-client local mode, packaged MiniLM).

    HF_HUB_OFFLINE=1 .venv/bin/python -m tests.benchmarks.patterns [--sizes 1000 20000] [--queries 200]

Prints embedding throughput (bulk batches of 64, and one short query at a time), then
for each store size: SearchPatterns p50/p99 as the service runs it (embed the query,
Qdrant query, hybrid re-rank), the same with filters (language + production_ready_only),
and the Qdrant query alone. Synthetic patterns are varied combinations of subject,
framework, action and concern. Not part of the test suite: timings are measured, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import Settings
from devmatrix.stores.embeddings import Embedder
from services.patterns import records
from services.patterns.domain import CATEGORIES, PRIOR_WEIGHT, Pattern
from services.patterns.runtime import PatternMetrics, PatternsRuntime
from services.patterns.search import SearchQuery, pattern_filter, search_patterns
from services.patterns.store import PATTERNS, VectorStore

SUBJECTS = [
    "user",
    "order",
    "invoice",
    "payment",
    "product",
    "cart",
    "session",
    "token",
    "report",
    "task",
    "comment",
    "notification",
    "file upload",
    "webhook",
    "subscription",
    "tenant",
    "audit log",
    "metric",
]
ACTIONS = [
    "create",
    "list with pagination",
    "update",
    "soft delete",
    "validate",
    "cache",
    "retry",
    "stream",
    "search by text",
    "export to CSV",
    "import",
    "rate limit",
    "authorize",
    "schedule",
    "aggregate",
]
CONCERNS = [
    "with structured logging",
    "with Prometheus metrics",
    "with input validation",
    "with optimistic locking",
    "with a circuit breaker",
    "in a database transaction",
    "with async I/O",
    "with unit tests",
    "behind a feature flag",
    "with idempotency keys",
    "with OpenTelemetry tracing",
    "with JWT auth",
]
FRAMEWORKS = [
    ("python", "fastapi"),
    ("python", "sqlalchemy"),
    ("python", "pydantic"),
    ("python", "pytest"),
    ("python", "celery"),
    ("dockerfile", "docker"),
    ("yaml", "kubernetes"),
    ("toml", "poetry"),
]
QUERIES = [
    "user login with JWT",
    "paginate a list endpoint",
    "retry a failing payment call",
    "cache product lookups",
    "export invoices to CSV",
    "rate limit the public API",
    "schedule a nightly report",
    "validate uploaded files",
    "idempotent webhook handler",
    "multi-tenant data isolation",
    "stream notifications to clients",
    "audit every change",
    "metrics for background jobs",
    "soft delete comments",
    "lock rows while updating orders",
]


def synthetic(n: int, seed: int = 7) -> list[Pattern]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        subject, action, concern = rng.choice(SUBJECTS), rng.choice(ACTIONS), rng.choice(CONCERNS)
        language, framework = rng.choice(FRAMEWORKS)
        out.append(
            Pattern(
                name=f"p{i}-{action.split()[0]}-{subject.replace(' ', '-')}",
                category=rng.choice(CATEGORIES),
                language=language,
                framework=framework,
                description=f"{action.capitalize()} {subject} records {concern} ({framework}), variant {i}.",
                code=f"async def {action.split()[0]}_{subject.replace(' ', '_')}_{i}(repo, item):\n    ...\n",
                success_rate=round(rng.uniform(0.4, 1.0), 3),
                test_coverage=round(rng.uniform(0.4, 1.0), 3),
                security_score=round(rng.uniform(0.4, 1.0), 3),
                observability_score=round(rng.uniform(0.4, 1.0), 3),
                tags=[subject, action.split()[0], framework],
                source="custom",
            )
        )
    return out


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def line(label: str, samples: list[float]) -> str:
    return (
        f"  {label:<44} p50 {pct(samples, 0.5):7.2f} ms   p99 {pct(samples, 0.99):7.2f} ms"
        f"   mean {statistics.fmean(samples) * 1000:6.2f} ms"
    )


async def timed(n: int, make) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for i in range(n):
        started = time.perf_counter()
        await make(i)
        samples.append(time.perf_counter() - started)
    return samples


async def main(sizes: list[int], queries: int) -> None:
    started = time.perf_counter()
    embedder = await Embedder.load()
    print(f"model load: {time.perf_counter() - started:.1f} s (dimension {embedder.dimension})")
    patterns = synthetic(max(sizes))
    texts = [p.embedding_text() for p in patterns]

    started = time.perf_counter()
    vectors = await embedder.encode(texts)
    bulk = time.perf_counter() - started
    print(
        f"embedding throughput (bulk, batch 64): {len(texts) / bulk:,.0f} texts/s ({len(texts):,} in {bulk:.1f} s)"
    )
    single = await timed(200, lambda i: embedder.encode([QUERIES[i % len(QUERIES)]]))
    print(f"embedding one query: {1 / statistics.fmean(single):,.0f} texts/s")
    print(line("embed one query", single))

    with tempfile.TemporaryDirectory(prefix="devmatrix-patterns-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        store = await VectorStore.open(settings, embedder.dimension)
        rt = PatternsRuntime(
            embedder, store, PatternMetrics(CollectorRegistry()), settings.pattern_vector_weight
        )
        stored = 0
        try:
            query_vectors = await embedder.encode(QUERIES)
            for size in sorted(sizes):
                started = time.perf_counter()
                points = [
                    (
                        p.id,
                        v,
                        records.pattern_payload(p, digest=records.content_hash(p), prior_weight=PRIOR_WEIGHT),
                    )
                    for p, v in zip(patterns[stored:size], vectors[stored:size], strict=True)
                ]
                for i in range(0, len(points), 512):
                    await store.upsert(PATTERNS, points[i : i + 512])
                stored = size
                print(f"\n{size:,} patterns stored (upsert {time.perf_counter() - started:.1f} s)")
                for i in range(10):  # warm-up
                    await search_patterns(rt, SearchQuery(query=QUERIES[i % len(QUERIES)]))
                print(
                    line(
                        "SearchPatterns (embed + query + re-rank)",
                        await timed(
                            queries, lambda i: search_patterns(rt, SearchQuery(query=QUERIES[i % 15]))
                        ),
                    )
                )
                print(
                    line(
                        "  with language + production_ready filters",
                        await timed(
                            queries,
                            lambda i: search_patterns(
                                rt,
                                SearchQuery(
                                    query=QUERIES[i % 15], language="python", production_ready_only=True
                                ),
                            ),
                        ),
                    )
                )
                print(
                    line(
                        "Qdrant query alone (top 40)",
                        await timed(
                            queries, lambda i: store.query(PATTERNS, query_vectors[i % 15], limit=40)
                        ),
                    )
                )
                print(
                    line(
                        "Qdrant query alone, filtered",
                        await timed(
                            queries,
                            lambda i: store.query(
                                PATTERNS,
                                query_vectors[i % 15],
                                limit=40,
                                where=pattern_filter(language="python", ready_only=True),
                            ),
                        ),
                    )
                )
        finally:
            await rt.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.queries))
