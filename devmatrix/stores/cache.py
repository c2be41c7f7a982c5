"""The context cache: one async interface, an in-process TTL cache (embedded default) and
Redis (REDIS_URL). Values are bytes; a backend that cannot be reached raises Unavailable."""

from __future__ import annotations

import abc
import time
from collections import OrderedDict
from collections.abc import Callable

from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import Unavailable

DEFAULT_MAX_ENTRIES = 10_000


class Cache(abc.ABC):
    """Keys are strings, values bytes. `ttl_seconds` None or <= 0 keeps the value until evicted."""

    backend: str = ""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> bool:
        """True when the key existed."""

    @abc.abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with `prefix`; returns how many were deleted."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Returns when the backend answers; raises Unavailable otherwise."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class MemoryCache(Cache):
    """In-process TTL cache, bounded: the least recently used entry goes first when full."""

    backend = "memory"

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        # key -> (expires_at or None, value)
        self._data: OrderedDict[str, tuple[float | None, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        expires = self._clock() + ttl_seconds if ttl_seconds and ttl_seconds > 0 else None
        self._data[key] = (expires, bytes(value))
        self._data.move_to_end(key)
        if len(self._data) > self._max:
            self._evict()

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, (e, _) in self._data.items() if e is not None and e <= now]:
            del self._data[key]
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    async def delete(self, key: str) -> bool:
        return self._data.pop(key, None) is not None

    async def delete_prefix(self, prefix: str) -> int:
        keys = [k for k in self._data if k.startswith(prefix)]
        for key in keys:
            del self._data[key]
        return len(keys)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


class RedisCache(Cache):
    """redis.asyncio with short socket timeouts, so an outage is a quick Unavailable."""

    backend = "redis"

    def __init__(self, url: str, timeout_seconds: float = 1.0) -> None:
        import redis.asyncio as redis

        self._url = url
        self._client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            health_check_interval=30,
        )

    async def _call(self, what: str, op: Callable[[], object]) -> object:
        import redis.exceptions

        try:
            return await op()  # type: ignore[misc]
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
            raise Unavailable(f"redis unavailable ({what}): {error}") from None
        except TimeoutError:
            raise Unavailable(f"redis unavailable ({what}): timed out") from None

    async def get(self, key: str) -> bytes | None:
        value = await self._call("get", lambda: self._client.get(key))
        return None if value is None else bytes(value)  # type: ignore[arg-type]

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        px = max(1, int(ttl_seconds * 1000)) if ttl_seconds and ttl_seconds > 0 else None
        await self._call("set", lambda: self._client.set(key, bytes(value), px=px))

    async def delete(self, key: str) -> bool:
        return bool(await self._call("delete", lambda: self._client.delete(key)))

    async def delete_prefix(self, prefix: str) -> int:
        async def run() -> int:
            deleted = 0
            batch: list[bytes] = []
            escaped = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in prefix)
            async for key in self._client.scan_iter(match=escaped + "*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    deleted += await self._client.delete(*batch)
                    batch = []
            if batch:
                deleted += await self._client.delete(*batch)
            return deleted

        return int(await self._call("delete_prefix", run))  # type: ignore[arg-type]

    async def ping(self) -> None:
        await self._call("ping", self._client.ping)

    async def close(self) -> None:
        await self._client.aclose()


def open_cache(settings: Settings, max_entries: int = DEFAULT_MAX_ENTRIES) -> Cache:
    """Redis when REDIS_URL is set, else the in-process cache."""
    if settings.redis_url:
        return RedisCache(settings.redis_url)
    return MemoryCache(max_entries)
