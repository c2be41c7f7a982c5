"""FindSimilarFailures: the pattern store's failures and lessons (its SearchFailures over
gRPC) and this orchestrator's own failed attempts matching the text.

The pattern store is optional: a circuit breaker around it and a short deadline, and any
failure of it (down, slow, breaker open) leaves the attempts as the answer, flagged degraded."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from purgatory import AsyncCircuitBreakerFactory

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.logging import get_logger
from devmatrix.stores.postgres import Postgres
from devmatrix.v1 import patterns_pb2, patterns_pb2_grpc
from services.orchestrator.insights.learning import attempt_failures
from services.orchestrator.insights.records import SimilarFailures

log = get_logger("devmatrix.insights.failures")

IDEMPOTENT = (("devmatrix.v1.PatternsService", "SearchFailures"),)
# The pattern store gets at most this long, and at most half of what the caller has left.
OPTIONAL_TIMEOUT_S = 2.0
BREAKER_THRESHOLD = 3
BREAKER_OPEN_S = 15


class PatternFailures:
    """A client of the pattern store's failure search, behind a circuit breaker."""

    def __init__(self, settings: Settings) -> None:
        self._channel = open_channel(
            settings.addr("patterns"), settings.grpc_deadline_seconds, IDEMPOTENT, settings.max_message_bytes
        )
        self._stub = patterns_pb2_grpc.PatternsServiceStub(self._channel)
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=BREAKER_THRESHOLD, default_ttl=BREAKER_OPEN_S
        )

    async def close(self) -> None:
        await self._channel.close()

    async def search(
        self, text: str, top_k: int, threshold: float, time_left: float | None
    ) -> list[Any] | None:
        """The store's FailureMatch messages, or None when it could not answer in time."""
        timeout = (
            OPTIONAL_TIMEOUT_S if time_left is None else max(0.01, min(OPTIONAL_TIMEOUT_S, time_left / 2))
        )
        request = patterns_pb2.SearchFailuresRequest(query=text, top_k=top_k, similarity_threshold=threshold)
        try:
            breaker = await self._breakers.get_breaker("patterns")
            async with breaker:
                found = await self._stub.SearchFailures(request, timeout=timeout)
            return list(found.matches)
        except grpc.aio.AioRpcError as error:
            log.info("pattern_store_failed", grpc_code=error.code().name)
        except Exception as error:  # breaker open (purgatory's OpenedState), closed channel, ...
            log.info("pattern_store_skipped", reason=type(error).__name__)
        return None


async def similar_failures(
    db: Postgres,
    patterns: PatternFailures,
    text: str,
    top_k: int,
    threshold: float,
    time_left: float | None,
) -> SimilarFailures:
    async def local() -> list:
        async with db.pool.connection() as conn:
            return await attempt_failures(conn, text, top_k)

    stored, attempts = await asyncio.gather(patterns.search(text, top_k, threshold, time_left), local())
    return SimilarFailures(stored=stored or [], attempts=attempts, degraded=stored is None)
