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
import shutil
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
ROOT = Path(__file__).resolve().parents[2]


def random_plan(size: int, seed: int, roots: float = 0.1, layers: int = 0) -> str:
    """One phase, groups of 100 tasks; after the first `roots` share, each task depends on
    three earlier tasks. By default they are picked among the 300 before it, which makes a
    deep graph (about 200 waves at 10,000 tasks); with `layers` the tasks form that many
    equal layers and depend on three tasks of the layer before (waves = layers)."""
    rng = random.Random(seed)
    per_layer = size // layers if layers else 0
    tasks: list[dict[str, Any]] = [{"key": "P", "type": "PHASE", "name": "Implementation", "phase": 3}]
    for g in range(0, size, 100):
        tasks.append({"key": f"G{g}", "type": "TASK_GROUP", "parent": "P", "name": f"Group {g}"})
    for i in range(size):
        deps: list[str] = []
        if layers and i >= per_layer:
            start = (i // per_layer - 1) * per_layer
            deps = [f"t{j}" for j in sorted(rng.sample(range(start, start + per_layer), 3))]
        elif not layers and i >= size * roots:
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


def ghz_binary() -> str:
    found = shutil.which("ghz") or str(ROOT / ".tools" / "bin" / "ghz")
    if not Path(found).exists():
        raise SystemExit("ghz not found: run scripts/install_go_tools.sh (go install github.com/bojand/ghz)")
    return found


async def ghz(
    address: str, method: str, data: list[dict[str, Any]], concurrency: int, total: int, rps: int = 0
) -> str:
    """Drive one RPC with ghz (a separate process, over reflection); p50/p99 and throughput.

    rps 0 is a closed loop (each worker sends its next call when the last one answers, so
    latency includes queueing at saturation); rps > 0 paces the calls at that rate."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as data_file:
        json.dump(data, data_file)
        data_file.flush()
        process = await asyncio.create_subprocess_exec(
            ghz_binary(),
            "--insecure",
            "--call",
            f"devmatrix.v1.OrchestratorService/{method}",
            "--data-file",
            data_file.name,
            "-c",
            str(concurrency),
            "-n",
            str(total),
            "--rps",
            str(rps),
            "--format",
            "json",
            address,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"ghz failed: {err.decode()[-2000:]}")
    report = json.loads(out)
    errors = sum(n for code, n in (report.get("statusCodeDistribution") or {}).items() if code != "OK")
    if errors:
        raise SystemExit(
            f"ghz: {errors} of {report['count']} {method} calls failed: {report.get('errorDistribution')}"
        )
    at = {p["percentage"]: p["latency"] / 1e6 for p in report["latencyDistribution"]}
    return f"p50 {at[50]:.2f} ms, p99 {at[99]:.2f} ms, {report['rps']:.0f} calls/s ({report['count']} calls)"


async def _audit_rows(runtime: Any, spec_id: str) -> int:
    async with runtime.db.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM orchestrator.audit_log WHERE spec_id = %s", (spec_id,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


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
        for size, layers in ((1000, 0), (10000, 0), (10000, 20)):
            create_s, created = await timed(
                lambda s=size, n=layers: stub.CreateSpec(
                    pb.CreateSpecRequest(plan_json=random_plan(s, 7, layers=n))
                )
            )
            specs.setdefault(size, created.spec.id)
            shape = f"{layers} layers" if layers else "deep"
            lines.append(f"CreateSpec {size:,} tasks ({shape}): {create_s * 1000:.0f} ms")
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
                f"AnalyzeDependencies {size:,} tasks ({shape}, {len(analysis.by_wave())} waves): graph store "
                f"{statistics.median(store_runs) * 1000:.0f} ms, whole RPC {statistics.median(rpc_runs) * 1000:.0f} ms "
                "(median of 5)"
            )
        spec_id = specs[1000]
        tree = await stub.GetTaskTree(
            pb.GetTaskTreeRequest(spec_id=spec_id, type=c.TASK_TYPE_TASK, page_size=2000)
        )
        ids = [t.id for t in tree.tasks]
        rng = random.Random(1)
        sample = [{"task_id": rng.choice(ids)} for _ in range(500)]
        get_task = await ghz(server.address, "GetTask", sample, concurrency=1, total=3000)
        lines.append(f"GetTask (ghz, 1 connection): {get_task}")
        get_task8 = await ghz(server.address, "GetTask", sample, concurrency=CLIENTS, total=5000)
        lines.append(f"GetTask (ghz, {CLIENTS} concurrent, as fast as it answers): {get_task8}")
        # Tasks without dependencies move READY -> RUNNING -> READY ...: every request is a real
        # transition with its audit row, event and graph update. Requests go round-robin over
        # the list, so a task's next change comes len(roots) requests later.
        roots = [t.id for t in tree.tasks if not t.depends_on]
        flips = [
            {"task_id": task_id, "status": status}
            for status in ("TASK_STATUS_RUNNING", "TASK_STATUS_READY")
            for task_id in roots
        ]
        update = await ghz(
            server.address, "UpdateTaskStatus", flips, concurrency=CLIENTS, total=len(flips) * 10
        )
        lines.append(f"UpdateTaskStatus (ghz, {CLIENTS} concurrent, as fast as it answers): {update}")
        paced = await ghz(
            server.address, "UpdateTaskStatus", flips, concurrency=CLIENTS, total=len(flips) * 5, rps=200
        )
        lines.append(f"UpdateTaskStatus (ghz, {CLIENTS} concurrent, paced at 200/s): {paced}")
        audit_rows = await _audit_rows(server.app.state, spec_id)
        lines.append(f"  audit rows written for the spec: {audit_rows:,}")
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
