"""The patterns service's Qdrant collections behind one small async interface.

Two implementations of the same client API: qdrant-client's local mode in the data
dir (`<data_dir>/qdrant`, the embedded default, one process at a time) and a Qdrant
server (`QDRANT_URL`). Collections use cosine distance with the embedder's vector size
and carry payload indexes for every field searches filter or order on (the server
uses them; local mode scans and ignores them).
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import FailedPrecondition, PreconditionViolation, Unavailable

TASKS = "task_embeddings"
PATTERNS = "code_patterns"
SUCCESSES = "success_patterns"
FAILURES = "failures"
LOCAL_OVERFETCH = 5

KW, BOOL, FLT, INT = (
    models.PayloadSchemaType.KEYWORD,
    models.PayloadSchemaType.BOOL,
    models.PayloadSchemaType.FLOAT,
    models.PayloadSchemaType.INTEGER,
)
INDEXES: dict[str, dict[str, models.PayloadSchemaType]] = {
    PATTERNS: {
        "name": KW,
        "category": KW,
        "language": KW,
        "framework": KW,
        "source": KW,
        "tags": KW,
        "production_ready": BOOL,
        "docker_ready": BOOL,
        "production_score": FLT,
        "success_rate": FLT,
        "usage_count": INT,
    },
    SUCCESSES: {
        "name": KW,
        "task_id": KW,
        "spec_id": KW,
        "category": KW,
        "language": KW,
        "framework": KW,
        "validation_score": FLT,
    },
    TASKS: {"task_id": KW, "spec_id": KW, "task_type": KW, "kind": KW, "success_rate": FLT},
    FAILURES: {"task_id": KW, "category": KW},
}


@dataclass
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


def _unavailable(error: Exception) -> Unavailable:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return Unavailable(f"qdrant unavailable: {first[:300]}")


class VectorStore:
    def __init__(self, client: AsyncQdrantClient, local: bool, dimension: int, where: str) -> None:
        self.client = client
        self.local = local
        self.dimension = dimension
        self.where = where

    @classmethod
    async def open(cls, settings: Settings, dimension: int) -> VectorStore:
        if settings.qdrant_url:
            client = AsyncQdrantClient(
                url=settings.qdrant_url, timeout=int(settings.grpc_deadline_seconds) or 1
            )
            store = cls(client, False, dimension, settings.qdrant_url)
        else:
            path = settings.data_dir / "qdrant"
            path.mkdir(parents=True, exist_ok=True)
            try:
                client = AsyncQdrantClient(path=str(path))
            except RuntimeError as error:  # another process holds the local storage
                raise Unavailable(f"qdrant local storage {path}: {error}") from error
            store = cls(client, True, dimension, str(path))
        try:
            await store.ensure_collections()
        except BaseException:
            await store.close()
            raise
        return store

    async def ensure_collections(self) -> None:
        for name, indexes in INDEXES.items():
            try:
                exists = await self.client.collection_exists(name)
                if not exists:
                    await self.client.create_collection(
                        name,
                        vectors_config=models.VectorParams(
                            size=self.dimension, distance=models.Distance.COSINE
                        ),
                    )
                else:
                    info = await self.client.get_collection(name)
                    size = getattr(info.config.params.vectors, "size", None)
                    if size != self.dimension:
                        raise FailedPrecondition(
                            f"collection {name} at {self.where} holds vectors of size {size}, the embedding "
                            f"model gives {self.dimension}: use another Qdrant storage or drop the collection",
                            [PreconditionViolation("VECTOR_SIZE", name, f"{size} != {self.dimension}")],
                        )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # local mode: "payload indexes have no effect"
                    for field_name, schema in indexes.items():
                        await self.client.create_payload_index(name, field_name, field_schema=schema)
            except FailedPrecondition:
                raise
            except Exception as error:
                raise _unavailable(error) from error

    async def ping(self) -> bool:
        try:
            await asyncio.wait_for(self.client.get_collections(), timeout=5)
            return True
        except Exception:
            return False

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()

    async def upsert(
        self, collection: str, points: Sequence[tuple[str, list[float], dict[str, Any]]]
    ) -> None:
        if not points:
            return
        try:
            await self.client.upsert(
                collection,
                points=[models.PointStruct(id=i, vector=v, payload=p) for i, v, p in points],
                wait=True,
            )
        except Exception as error:
            raise _unavailable(error) from error

    async def get(self, collection: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        try:
            records = await self.client.retrieve(collection, ids=list(ids), with_payload=True)
        except Exception as error:
            raise _unavailable(error) from error
        return {str(r.id): dict(r.payload or {}) for r in records}

    async def get_one(self, collection: str, point_id: str) -> dict[str, Any] | None:
        return (await self.get(collection, [point_id])).get(point_id)

    async def set_payload(self, collection: str, point_id: str, payload: dict[str, Any]) -> None:
        try:
            await self.client.set_payload(collection, payload=payload, points=[point_id], wait=True)
        except Exception as error:
            raise _unavailable(error) from error

    async def delete(self, collection: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        try:
            await self.client.delete(
                collection, points_selector=models.PointIdsList(points=list(ids)), wait=True
            )
        except Exception as error:
            raise _unavailable(error) from error

    async def query(
        self,
        collection: str,
        vector: list[float],
        limit: int,
        where: Where | None = None,
        threshold: float | None = None,
    ) -> list[Hit]:
        """The `limit` most similar points satisfying `where`, most similar first.

        Local mode filters by scanning every payload in Python (about 15 ms per 1,000
        points), so it first fetches LOCAL_OVERFETCH x limit points unfiltered and filters
        them here; that is exact when enough of them pass (or all candidates were seen),
        else the filtered query runs. A server uses its payload indexes directly."""
        if where and self.local:
            wide = max(limit * LOCAL_OVERFETCH, 200)
            hits = await self._query(collection, vector, wide, None, threshold)
            kept = [h for h in hits if where.accepts(h.payload)]
            if len(kept) >= limit or len(hits) < wide:
                return kept[:limit]
        return await self._query(collection, vector, limit, where.to_qdrant() if where else None, threshold)

    async def _query(
        self,
        collection: str,
        vector: list[float],
        limit: int,
        query_filter: models.Filter | None,
        threshold: float | None,
    ) -> list[Hit]:
        try:
            result = await self.client.query_points(
                collection,
                query=vector,
                query_filter=query_filter,
                limit=limit,
                score_threshold=threshold,
                with_payload=True,
            )
        except Exception as error:
            raise _unavailable(error) from error
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in result.points]

    async def scroll(
        self,
        collection: str,
        where: Where | None = None,
        limit: int = 100,
        order_by: str | None = None,
    ) -> list[Hit]:
        try:
            records, _ = await self.client.scroll(
                collection,
                scroll_filter=where.to_qdrant() if where else None,
                limit=limit,
                with_payload=True,
                order_by=models.OrderBy(key=order_by, direction=models.Direction.DESC) if order_by else None,
            )
        except Exception as error:
            raise _unavailable(error) from error
        return [Hit(str(r.id), 0.0, dict(r.payload or {})) for r in records]

    async def count(self, collection: str) -> int:
        try:
            return (await self.client.count(collection, exact=True)).count
        except Exception as error:
            raise _unavailable(error) from error


@dataclass(frozen=True)
class Where:
    """The payload conditions searches use: equal values, lower bounds, excluded values.
    Sent to Qdrant as a Filter; also evaluated here (`accepts`), so local mode can filter
    an over-fetched unfiltered result instead of its per-point Python filter scan."""

    equals: tuple[tuple[str, Any], ...] = ()
    at_least: tuple[tuple[str, float], ...] = ()
    not_equals: tuple[tuple[str, Any], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.equals or self.at_least or self.not_equals)

    def to_qdrant(self) -> models.Filter | None:
        if not self:
            return None
        must: list[models.Condition] = [
            models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in self.equals
        ]
        must += [models.FieldCondition(key=k, range=models.Range(gte=v)) for k, v in self.at_least]
        must_not: list[models.Condition] = [
            models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in self.not_equals
        ]
        return models.Filter(must=must or None, must_not=must_not or None)

    def accepts(self, payload: dict[str, Any]) -> bool:
        def has(key: str, value: Any) -> bool:
            found = payload.get(key)
            return value in found if isinstance(found, list) else found == value

        return (
            all(has(k, v) for k, v in self.equals)
            and all(isinstance(payload.get(k), int | float) and payload[k] >= v for k, v in self.at_least)
            and not any(has(k, v) for k, v in self.not_equals)
        )
