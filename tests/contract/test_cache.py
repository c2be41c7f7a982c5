"""One contract for both Cache backends: the in-process TTL cache and a real redis-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from devmatrix.runtime.config import Settings
from devmatrix.runtime.errors import Unavailable
from devmatrix.stores.cache import Cache, MemoryCache, RedisCache, open_cache
from tests.fixtures.redis import _free_port


@pytest_asyncio.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        backend: Cache = MemoryCache(max_entries=1000)
    else:
        backend = RedisCache(request.getfixturevalue("redis_url"))
    try:
        yield backend
    finally:
        await backend.close()


def key(name: str) -> str:
    """Unique per test, so tests sharing one redis-server never see each other's keys."""
    return f"test:{uuid.uuid4().hex[:8]}:{name}"


async def test_missing_key_is_none(cache: Cache) -> None:
    assert await cache.get(key("absent")) is None
    assert await cache.delete(key("absent")) is False


async def test_set_get_overwrite_delete(cache: Cache) -> None:
    k = key("k")
    await cache.set(k, b"one", ttl_seconds=60)
    assert await cache.get(k) == b"one"
    await cache.set(k, b"two", ttl_seconds=60)
    assert await cache.get(k) == b"two"
    assert await cache.delete(k) is True
    assert await cache.get(k) is None


async def test_values_are_binary_safe(cache: Cache) -> None:
    k = key("bin")
    value = bytes(range(256)) + b"\x00\r\n" + "é✓".encode() + b"\x00" * 10
    await cache.set(k, value, ttl_seconds=60)
    assert await cache.get(k) == value
    await cache.set(k, b"", ttl_seconds=60)
    assert await cache.get(k) == b""


async def test_ttl_expires(cache: Cache) -> None:
    short, long, forever = key("short"), key("long"), key("forever")
    await cache.set(short, b"x", ttl_seconds=0.15)
    await cache.set(long, b"y", ttl_seconds=30)
    await cache.set(forever, b"z")
    assert await cache.get(short) == b"x"
    await asyncio.sleep(0.3)
    assert await cache.get(short) is None
    assert await cache.get(long) == b"y"
    assert await cache.get(forever) == b"z"


async def test_overwrite_resets_ttl(cache: Cache) -> None:
    k = key("reset")
    await cache.set(k, b"a", ttl_seconds=0.15)
    await cache.set(k, b"b", ttl_seconds=30)
    await asyncio.sleep(0.3)
    assert await cache.get(k) == b"b"


async def test_delete_prefix(cache: Cache) -> None:
    base = key("p")
    for i in range(5):
        await cache.set(f"{base}:a:{i}", b"1", ttl_seconds=60)
    await cache.set(f"{base}:b", b"2", ttl_seconds=60)
    assert await cache.delete_prefix(f"{base}:a:") == 5
    assert await cache.get(f"{base}:a:0") is None
    assert await cache.get(f"{base}:b") == b"2"
    assert await cache.delete_prefix(f"{base}:a:") == 0


async def test_ping(cache: Cache) -> None:
    await cache.ping()


async def test_memory_cache_is_bounded_and_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_entries=3)
    for name in ("a", "b", "c"):
        await cache.set(name, name.encode(), ttl_seconds=60)
    assert await cache.get("a") == b"a"  # a is now the most recently used
    await cache.set("d", b"d", ttl_seconds=60)
    assert len(cache) == 3
    assert await cache.get("b") is None
    assert {await cache.get(n) for n in ("a", "c", "d")} == {b"a", b"c", b"d"}


async def test_redis_down_is_unavailable() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{_free_port()}/0", timeout_seconds=0.5)
    try:
        with pytest.raises(Unavailable):
            await cache.ping()
        with pytest.raises(Unavailable):
            await cache.get("k")
        with pytest.raises(Unavailable):
            await cache.set("k", b"v", ttl_seconds=1)
        with pytest.raises(Unavailable):
            await cache.delete("k")
    finally:
        await cache.close()


def test_factory_chooses_by_settings(tmp_path: object, redis_url: str) -> None:
    assert isinstance(open_cache(Settings(data_dir=tmp_path)), MemoryCache)  # type: ignore[arg-type]
    chosen = open_cache(Settings(data_dir=tmp_path, redis_url=redis_url))  # type: ignore[arg-type]
    assert isinstance(chosen, RedisCache)
