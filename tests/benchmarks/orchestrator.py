"""Orchestrator benchmarks over real gRPC on a real PostgreSQL, for both graph backends.

    .venv/bin/python -m tests.benchmarks.orchestrator [--backend embedded|neo4j|both]

Prints, per backend: AnalyzeDependencies on 1,000 and 10,000 tasks (about 3 dependencies
each; the graph store's own analysis and the whole RPC, which also writes every task's
wave back to PostgreSQL), GetTask p50/p99, UpdateTaskStatus p50/p99 under 8 concurrent
clients (each change with its audit row, event and graph update), and CreateSpec for a
1,000-task plan. Not part of the test suite: timings are measured, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.logging import configure_logging
from devmatrix.runtime.server import start_server
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from services.orchestrator.app import build
from tests.neo4j.harness import neo4j_harness

CLIENTS = 8


def random_plan(size: int, seed: int, roots: float = 0.1) -> str:
    """One phase, groups of 100 tasks; after the first `roots` share, each task depends on
    three earlier tasks, mostly recent ones, so the graph is deep as well as wide."""
    rng = random.Random(seed)
    tasks: list[dict[str, Any]] = [{"key": "P", "type": "PHASE", "name": "Implementation", "phase": 3}]
    for g in range(0, size, 100):
        tasks.append({"key": f"G{g}", "type": "TASK_GROUP", "parent": "P", "name": f"Group {g}"})
    for i in range(size):
        deps: list[str] = []
        if i >= size * roots:
            window = range(max(0, i - 300), i)
            deps = [f"t{j}" for j in sorted(set(rng.sample(window, min(3, len(window)))))]
        tasks.append(
            {
                "key": f"t{i}",
                "type": "TASK",
                "parent": f"G{i // 100 * 100}",
                "name": f"Task {i}",
                "effort": rng.randint(1, 8),
                "depends_on": deps,
            }
        )
    return json.dumps({"spec": {"title": f"Benchmark {size}"}, "tasks": tasks})


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(ordered)} calls)"


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await call()
    return time.perf_counter() - started, result


@contextlib.asynccontextmanager
async def orchestrator(database_url: str, data_dir: Path, neo4j_uri: str | None) -> AsyncIterator[Any]:
    settings = Settings(
        data_dir=data_dir,
        bind_host="127.0.0.1",
        database_url=database_url,
        neo4j_uri=neo4j_uri,
        db_pool_size=10,
    )
    server = await start_server(build, settings, "orchestrator", port=0, metrics_port=0)
    channel = open_channel(server.address, 120.0, max_message_bytes=settings.max_message_bytes)
    try:
        yield server, orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)


async def bench_backend(name: str, database_url: str, data_dir: Path, neo4j_uri: str | None) -> list[str]:
    lines = [f"## {name} graph store"]
    async with orchestrator(database_url, data_dir, neo4j_uri) as (server, stub):
        runtime = server.app.state
        specs: dict[int, str] = {}
        for size in (1000, 10000):
            create_s, created = await timed(
                lambda s=size: stub.CreateSpec(pb.CreateSpecRequest(plan_json=random_plan(s, 7)))
            )
            specs[size] = created.spec.id
            lines.append(f"CreateSpec {size:,} tasks: {create_s * 1000:.0f} ms")
            await stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=created.spec.id))  # warm-up
            store_runs, rpc_runs = [], []
            for _ in range(5):
                store_s, analysis = await timed(lambda sid=created.spec.id: runtime.graph.analyze(sid))
                store_runs.append(store_s)
                rpc_s, _ = await timed(
                    lambda sid=created.spec.id: stub.AnalyzeDependencies(
                        pb.AnalyzeDependenciesRequest(spec_id=sid)
                    )
                )
                rpc_runs.append(rpc_s)
            lines.append(
                f"AnalyzeDependencies {size:,} tasks ({len(analysis.by_wave())} waves): graph store "
                f"{statistics.median(store_runs) * 1000:.0f} ms, whole RPC {statistics.median(rpc_runs) * 1000:.0f} ms "
                "(median of 5)"
            )
        spec_id = specs[1000]
        tree = await stub.GetTaskTree(
            pb.GetTaskTreeRequest(spec_id=spec_id, type=c.TASK_TYPE_TASK, page_size=2000)
        )
        ids = [t.id for t in tree.tasks]
        rng = random.Random(1)
        for _ in range(100):  # warm-up
            await stub.GetTask(pb.GetTaskRequest(task_id=rng.choice(ids)))
        samples = []
        for _ in range(2000):
            elapsed, _ = await timed(lambda: stub.GetTask(pb.GetTaskRequest(task_id=rng.choice(ids))))
            samples.append(elapsed)
        lines.append(f"GetTask (1 client): {percentiles(samples)}")

        roots = [t.id for t in tree.tasks if not t.depends_on]
        per_client = [roots[i::CLIENTS] for i in range(CLIENTS)]
        update_samples: list[float] = []

        async def client(own: list[str], rounds: int) -> None:
            status = c.TASK_STATUS_RUNNING
            for _ in range(rounds):
                for task_id in own:
                    elapsed, _ = await timed(
                        lambda t=task_id, s=status: stub.UpdateTaskStatus(
                            pb.UpdateTaskStatusRequest(task_id=t, status=s)
                        )
                    )
                    update_samples.append(elapsed)
                status = c.TASK_STATUS_READY if status == c.TASK_STATUS_RUNNING else c.TASK_STATUS_RUNNING

        wall_s, _ = await timed(lambda: asyncio.gather(*(client(own, 20) for own in per_client)))
        lines.append(
            f"UpdateTaskStatus ({CLIENTS} concurrent clients): {percentiles(update_samples)}, "
            f"{len(update_samples) / wall_s:.0f} changes/s"
        )
    return lines


@contextlib.contextmanager
def embedded_postgres() -> Iterator[tuple[str, Path]]:
    import pgserver

    with tempfile.TemporaryDirectory(prefix="devmatrix-bench-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            yield server.get_uri(), Path(tmp)
        finally:
            server.cleanup()


async def main(backends: list[str]) -> None:
    warnings.filterwarnings("ignore", module="platformdirs")
    configure_logging("WARNING")
    for backend in backends:
        with embedded_postgres() as (url, tmp):
            if backend == "neo4j":
                with neo4j_harness() as uri:
                    lines = await bench_backend("Neo4j 5 (neo4j-harness)", url, tmp, uri)
            else:
                lines = await bench_backend("embedded (networkx)", url, tmp, None)
        print("\n".join(lines), flush=True)
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("embedded", "neo4j", "both"), default="both")
    args = parser.parse_args()
    asyncio.run(main(["embedded", "neo4j"] if args.backend == "both" else [args.backend]))
