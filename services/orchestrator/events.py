"""Task status events: published with pg_notify inside the changing transaction (so they
go out exactly when it commits, from whichever replica made the change) and fanned out
to this replica's WatchProgress subscribers by one LISTEN connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from devmatrix.runtime.logging import get_logger
from devmatrix.stores.postgres import Postgres

CHANNEL = "devmatrix_task_events"
# A subscriber further behind than this is cut off instead of growing without bound.
MAX_QUEUED_EVENTS = 10_000
log = get_logger("devmatrix.events")


class EventHub:
    def __init__(self, db: Postgres) -> None:
        self._db = db
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())
        await asyncio.wait_for(self._listening.wait(), timeout=30)

    async def close(self) -> None:
        self.drain()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def drain(self) -> None:
        """End every open stream (shutdown)."""
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(None)

    @property
    def subscriber_count(self) -> int:
        return sum(len(q) for q in self._subscribers.values())

    async def _listen_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                async with await self._db.listen_connection() as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    delay = 0.2
                    async for notify in conn.notifies():
                        self._dispatch(json.loads(notify.payload))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("event_listener_reconnecting", error=str(error), delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _dispatch(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(event["spec_id"], ())):
            if queue.qsize() >= MAX_QUEUED_EVENTS:
                queue.put_nowait(None)
                self._subscribers[event["spec_id"]].discard(queue)
            else:
                queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, spec_id: str) -> AsyncIterator[asyncio.Queue[dict[str, Any] | None]]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._subscribers[spec_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[spec_id].discard(queue)
            if not self._subscribers[spec_id]:
                del self._subscribers[spec_id]
