"""The patterns service's backends, opened once per process: the embedder, the Qdrant
collections and the golden library, plus its domain metrics."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram

from devmatrix.runtime.config import Settings
from devmatrix.runtime.logging import get_logger
from devmatrix.stores.embeddings import Embedder
from services.patterns.store import VectorStore

log = get_logger("devmatrix.patterns")
DEFAULT_LIBRARY = Path(__file__).resolve().parent / "library"
SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LOCK_STRIPES = 64


class PatternMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.search_seconds = Histogram(
            "devmatrix_pattern_search_seconds",
            "Pattern search latency (embedding the query, vector search, re-ranking).",
            buckets=SEARCH_BUCKETS,
            registry=registry,
        )
        self.stored = Counter(
            "devmatrix_patterns_stored", "Patterns stored, by source.", ("source",), registry=registry
        )


@dataclass
class PatternsRuntime:
    embedder: Embedder
    store: VectorStore
    metrics: PatternMetrics
    vector_weight: float = 0.7
    # Read-modify-write of one pattern's statistics is serialized per process (striped locks).
    _locks: list[asyncio.Lock] = field(default_factory=lambda: [asyncio.Lock() for _ in range(LOCK_STRIPES)])

    @classmethod
    async def open(
        cls, settings: Settings, registry: CollectorRegistry, library_dir: Path | None = DEFAULT_LIBRARY
    ) -> PatternsRuntime:
        from services.patterns.library import load_library, sync_library

        # Refuse a malformed library before loading anything heavy.
        library = load_library(library_dir) if library_dir is not None else []
        embedder = await Embedder.load(settings.embedding_model, registry)
        store = await VectorStore.open(settings, embedder.dimension)
        rt = cls(embedder, store, PatternMetrics(registry), settings.pattern_vector_weight)
        try:
            if library:
                report = await sync_library(rt, library)
                log.info("pattern_library", directory=str(library_dir), **report)
        except BaseException:
            await store.close()
            raise
        return rt

    def lock(self, key: str) -> asyncio.Lock:
        return self._locks[zlib.crc32(key.encode()) % LOCK_STRIPES]

    async def ready(self) -> bool:
        return self.embedder.dimension > 0 and await self.store.ping()

    async def close(self) -> None:
        await self.store.close()
