"""GetContext, CompareWithFullMarkdown and InvalidateContext as plain async functions over
the sources (gRPC clients), the cache and the domain metrics."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import Message
from prometheus_client import CollectorRegistry, Counter, Histogram

from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import Unavailable
from devmatrix.runtime.logging import get_logger
from devmatrix.stores.cache import Cache
from devmatrix.stores.tokens import count_tokens
from devmatrix.v1 import common_pb2, patterns_pb2, skills_pb2
from services.context import keys
from services.context.assembly import Assembled, assemble
from services.context.fullmarkdown import Fact, render_full_markdown, required_facts
from services.context.levels import LEVELS, PATTERN_SEARCH_TOP_K, Level
from services.context.sections import Inputs, build_sections
from services.context.sources import Deadline, Sources, TaskView

log = get_logger("devmatrix.context")
T = TypeVar("T")

# Pattern search and skill mapping results: short-lived, shorter still when degraded, so a
# recovered source (or a pattern's new usage count) reaches the context key quickly.
SOURCE_RESULT_TTL_S = 30.0
DEGRADED_RESULT_TTL_S = 5.0
BYTES_BUCKETS = (1024, 2048, 3072, 4096, 6144, 8192, 10240, 12288, 15360, 20480, 32768)
OK, DEGRADED = b"O", b"D"


class ContextMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.cache_requests = Counter(
            "devmatrix_context_cache_requests_total",
            "GetContext cache lookups by result.",
            ("result",),
            registry=registry,
        )
        self.degraded = Counter(
            "devmatrix_context_degraded_total",
            "Context sections left out because their source service was slow or down.",
            ("section",),
            registry=registry,
        )
        self.bytes = Histogram(
            "devmatrix_context_bytes",
            "Size of the assembled context text in bytes.",
            ("level",),
            buckets=BYTES_BUCKETS,
            registry=registry,
        )


@dataclass
class Comparison:
    task: common_pb2.Task
    level: Level
    context: Assembled
    full_markdown_bytes: int
    full_markdown_tokens: int
    facts: list[Fact]

    @property
    def reduction(self) -> float:
        return 1 - self.context.token_count / self.full_markdown_tokens if self.full_markdown_tokens else 0.0

    @property
    def byte_reduction(self) -> float:
        return 1 - self.context.total_bytes / self.full_markdown_bytes if self.full_markdown_bytes else 0.0

    @property
    def all_facts_present(self) -> bool:
        return all(f.in_context for f in self.facts)


class ContextService:
    def __init__(self, settings: Settings, cache: Cache, sources: Sources, metrics: ContextMetrics) -> None:
        self.settings, self.cache, self.sources, self.metrics = settings, cache, sources, metrics
        self._full_tokens: OrderedDict[bytes, int] = OrderedDict()

    def deadline(self, seconds: float | None) -> Deadline:
        return Deadline(seconds if seconds is not None else self.settings.grpc_deadline_seconds)

    async def ready(self) -> bool:
        try:
            await self.cache.ping()
        except Unavailable:
            return False
        return True

    # -- cache helpers: an unreachable cache is a miss, never a failed context ---------------

    async def _cache_get(self, key: str) -> bytes | None:
        try:
            return await self.cache.get(key)
        except Unavailable as error:
            log.warning("cache_unavailable", op="get", error=error.message)
            return None

    async def _cache_set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self.cache.set(key, value, ttl)
        except Unavailable as error:
            log.warning("cache_unavailable", op="set", error=error.message)

    async def _cached_source(
        self, key: str, parse: Callable[[bytes], T], fetch: Callable[[], Awaitable[Message | None]]
    ) -> T | None:
        """An optional source's result through the cache; None (degraded) is cached briefly too."""
        raw = await self._cache_get(key)
        if raw is not None:
            return None if raw[:1] == DEGRADED else parse(raw[1:])
        result = await fetch()
        if result is None:
            await self._cache_set(key, DEGRADED, DEGRADED_RESULT_TTL_S)
            return None
        await self._cache_set(key, OK + result.SerializeToString(), SOURCE_RESULT_TTL_S)
        return result  # type: ignore[return-value]

    async def _patterns(
        self, task: common_pb2.Task, deadline: Deadline
    ) -> patterns_pb2.SearchPatternsResponse | None:
        query = f"{task.name}\n{task.description}".strip()[:2000]
        return await self._cached_source(
            keys.patterns_key(query, PATTERN_SEARCH_TOP_K),
            patterns_pb2.SearchPatternsResponse.FromString,
            lambda: self.sources.search_patterns(query, PATTERN_SEARCH_TOP_K, deadline),
        )

    async def _skills(
        self, task: common_pb2.Task, deadline: Deadline
    ) -> skills_pb2.MapTaskToSkillsResponse | None:
        return await self._cached_source(
            keys.skills_key(task),
            skills_pb2.MapTaskToSkillsResponse.FromString,
            lambda: self.sources.map_skills(task, deadline),
        )

    # -- GetContext ---------------------------------------------------------------------------

    async def get_context(
        self, task_id: str, level: Level, bypass_cache: bool = False, deadline_seconds: float | None = None
    ) -> Assembled:
        deadline = self.deadline(deadline_seconds)
        view = await self.sources.task(task_id, deadline)
        return await self._context(view, level, bypass_cache, deadline)

    async def _context(
        self, view: TaskView, level: Level, bypass_cache: bool, deadline: Deadline
    ) -> Assembled:
        spec = LEVELS[level]
        task = view.task

        async def nothing() -> None:
            return None

        patterns, skills = await asyncio.gather(
            self._patterns(task, deadline),
            self._skills(task, deadline) if spec.skill_guidelines else nothing(),
        )
        key = keys.context_key(
            task,
            view.parent,
            view.dependencies,
            level.value,
            keys.patterns_signature(patterns),
            keys.skills_signature(skills) if spec.skill_guidelines else None,
        )
        cached = None if bypass_cache else await self._cache_get(key)
        if cached is not None:
            self.metrics.cache_requests.labels("hit").inc()
            assembled = Assembled.from_bytes(cached)
            assembled.cache_hit = True
        else:
            self.metrics.cache_requests.labels("miss").inc()
            want_wave = spec.wave_tasks > 0 and task.wave >= 0
            got_spec, got_wave = await asyncio.gather(
                self.sources.spec(task.spec_id, deadline) if spec.spec else nothing(),
                self.sources.wave(task.spec_id, task.wave, spec.wave_tasks + 1, deadline)
                if want_wave
                else nothing(),
            )
            wave_tasks, wave_size = got_wave if got_wave else (None, 0)
            inputs = Inputs(view, got_spec, wave_tasks, wave_size, patterns, skills)
            assembled = assemble(task.id, level.value, build_sections(inputs, spec), spec.budget_bytes)
            await self._cache_set(key, assembled.to_bytes(), self.settings.context_cache_ttl_seconds)
        self.metrics.bytes.labels(level.value).observe(assembled.total_bytes)
        for name in assembled.degraded_sections:
            self.metrics.degraded.labels(name).inc()
        return assembled

    # -- CompareWithFullMarkdown ---------------------------------------------------------------

    def _count_full(self, text: str) -> int:
        digest = hashlib.sha256(text.encode()).digest()
        if digest in self._full_tokens:
            self._full_tokens.move_to_end(digest)
            return self._full_tokens[digest]
        count = count_tokens(text)
        self._full_tokens[digest] = count
        if len(self._full_tokens) > 64:
            self._full_tokens.popitem(last=False)
        return count

    async def compare(self, task_id: str, level: Level, deadline_seconds: float | None = None) -> Comparison:
        deadline = self.deadline(deadline_seconds)
        view = await self.sources.task(task_id, deadline)
        context, spec, tasks = await asyncio.gather(
            self._context(view, level, False, deadline),
            self.sources.spec(view.task.spec_id, deadline),
            self.sources.all_tasks(view.task.spec_id, deadline),
        )
        full = render_full_markdown(spec, tasks)
        return Comparison(
            task=view.task,
            level=level,
            context=context,
            full_markdown_bytes=len(full.encode()),
            full_markdown_tokens=self._count_full(full),
            facts=required_facts(view.task, view.dependencies, context.text, full),
        )

    async def invalidate(self, task_id: str) -> int:
        return await self.cache.delete_prefix(keys.task_prefix(task_id))
