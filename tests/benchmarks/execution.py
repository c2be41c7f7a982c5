"""Wave execution benchmark: the orchestrator's own cost of running a spec wave by wave,
measured against a codegen stand-in that takes a fixed time per task.

    .venv/bin/python -m tests.benchmarks.execution [--sleep 0.2] [--concurrency 1 5 [10]]
        [--repeat 1] [--spec task_api blog_ui] [--json PATH] [--lease-seconds 60]
        [--pool-size 10] [--poll 0.05] [--codegen-in-process] [--no-warmup]

Setup: a real PostgreSQL (pgserver, started here), the real orchestrator service
(services/orchestrator/app.py, default settings but for the ports and --lease-seconds /
--pool-size) over real gRPC, and tests/execution/fake_codegen.py as codegen: a real gRPC
CodegenService that sleeps --sleep seconds per task, then answers one small file,
passed=True, confidence 1.0. By default it runs in a process of its own (as codegen does
in the mesh), so its gRPC work does not share the orchestrator's event loop.

Each run ingests the spec markdown through CreateSpec (a fresh spec per run, so every
task is to do), reads the waves and the critical path from AnalyzeDependencies, starts
ExecuteSpec at the given concurrency and polls GetExecution until it is done. The figures
come from the Execution message (wall_seconds: started_at to finished_at on the server;
sequential_seconds: the sum of the tasks' worker times), the breakdown from the timeline
the run leaves in PostgreSQL (audit_log status changes, task_attempts).

    ideal wall    = sum over waves of ceil(tasks_in_wave / concurrency) * sleep
                    (waves in order, a wave's tasks in parallel up to the concurrency);
                    the number of these sequential slots is the run's "rounds"
    speedup       = tasks * sleep / wall; ideal speedup = tasks * sleep / ideal wall
    % of ideal    = ideal wall / wall (target >= 90 %)
    overhead      = (wall - ideal wall) / rounds, in ms per round: what the orchestrator
                    adds to each task on the critical chain of sequential slots (claim,
                    bookkeeping, completion, the wave barrier shared out). At concurrency
                    1 rounds = tasks, so it is (wall - tasks * sleep) / tasks (target < 10 ms)
    CP bound      = total effort / effort-weighted critical path (AnalyzeDependencies'
                    ideal_speedup): the planner's bound with unlimited workers; with equal
                    task times (this benchmark) that bound is tasks / waves

The runner's poll interval (lease_seconds / 4, clamped to 0.1..5 s: 5 s by default) is
reported, and so is every wave transition it held up ("poll stalls"): the figures are
measured at the default settings, not tuned around it. A first, unreported run warms the
orchestrator up (--no-warmup skips it).

Not part of the test suite: figures are printed (and written as JSON with --json),
nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.logging import configure_logging
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from services.orchestrator.app import build
from tests.benchmarks.execution_report import console, print_report
from tests.benchmarks.orchestrator import embedded_postgres
from tests.execution.fake_codegen import FakeCodegen, fake_codegen_app, ok

ROOT = Path(__file__).resolve().parents[2]
SPECS = {"task_api": ROOT / "examples/specs/task_api.md", "blog_ui": ROOT / "examples/specs/blog_ui.md"}
FINISHED = (pb.EXECUTION_STATUS_COMPLETED, pb.EXECUTION_STATUS_FAILED, pb.EXECUTION_STATUS_CANCELLED)
ADDRESS_PREFIX = "CODEGEN_ADDRESS="


# --------------------------------------------------------------------------- codegen stand-in


def stand_in(sleep: float) -> FakeCodegen:
    """tests/execution/fake_codegen.py answering every task the same: after `sleep` seconds,
    one small file, validation passed, confidence 1.0 (so every task ends COMPLETED)."""
    codegen = FakeCodegen()
    codegen.default = ok(confidence=1.0, passed=True, delay=sleep, files=1)
    return codegen


async def serve_codegen(sleep: float) -> None:
    """The stand-in as a process of its own: prints its address, serves until stdin closes."""
    with tempfile.TemporaryDirectory(prefix="devmatrix-bench-codegen-") as tmp:
        settings = Settings(data_dir=Path(tmp), bind_host="127.0.0.1")
        server = await start_server(
            fake_codegen_app(stand_in(sleep)), settings, "codegen", port=0, metrics_port=0
        )
        print(f"{ADDRESS_PREFIX}{server.address}", flush=True)
        try:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        finally:
            await server.stop(0)


@contextlib.asynccontextmanager
async def codegen_server(sleep: float, in_process: bool, data_dir: Path) -> AsyncIterator[str]:
    if in_process:
        settings = Settings(data_dir=data_dir, bind_host="127.0.0.1")
        server = await start_server(
            fake_codegen_app(stand_in(sleep)), settings, "codegen", port=0, metrics_port=0
        )
        try:
            yield server.address
        finally:
            await server.stop(0)
        return
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.benchmarks.execution",
        "--serve-codegen",
        "--sleep",
        str(sleep),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        if not line.startswith(ADDRESS_PREFIX):
            raise SystemExit(f"the codegen stand-in did not start (said {line!r})")
        yield line.removeprefix(ADDRESS_PREFIX)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


# --------------------------------------------------------------------------- orchestrator


@dataclasses.dataclass
class Orchestrator:
    server: RunningServer
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub
    settings: Settings

    @property
    def poll_seconds(self) -> float:
        return float(self.server.app.state.runner.poll_seconds)  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def orchestrator(
    database_url: str, data_dir: Path, codegen: str, lease_seconds: float | None, pool_size: int | None
) -> AsyncIterator[Orchestrator]:
    settings = Settings(
        data_dir=data_dir, bind_host="127.0.0.1", database_url=database_url, addrs={"codegen": codegen}
    )
    overrides: dict[str, Any] = {}
    if lease_seconds is not None:
        overrides["lease_seconds"] = lease_seconds
    if pool_size is not None:
        overrides["db_pool_size"] = pool_size
    settings = dataclasses.replace(settings, **overrides)
    server = await start_server(build, settings, "orchestrator", port=0, metrics_port=0)
    channel = open_channel(server.address, 60.0, max_message_bytes=settings.max_message_bytes)
    try:
        yield Orchestrator(server, orchestrator_pb2_grpc.OrchestratorServiceStub(channel), settings)
    finally:
        await channel.close()
        await server.stop(0)


# --------------------------------------------------------------------------- one run


@dataclasses.dataclass
class Run:
    spec: str
    concurrency: int
    repeat: int
    sleep: float
    tasks: int
    waves: int
    wave_sizes: list[int]
    rounds: int
    status: str
    tasks_completed: int
    tasks_failed: int
    tasks_in_review: int
    wall_s: float
    client_wall_s: float
    sequential_s: float
    ideal_wall_s: float
    total_effort: int
    critical_path_effort: int
    critical_path_tasks: int
    cp_bound: float
    # CPU seconds of this process (orchestrator and this client) during the execution, and
    # the machine's 1-minute load average when it started (other work on the machine).
    cpu_s: float = 0.0
    load_before: float = 0.0
    # Timeline (ms), one value per task (or per pair of successive tasks of a worker, or per
    # transition between two waves); see `timeline`.
    claim_to_call_ms: list[float] = dataclasses.field(default_factory=list)
    call_over_sleep_ms: list[float] = dataclasses.field(default_factory=list)
    answer_to_done_ms: list[float] = dataclasses.field(default_factory=list)
    next_claim_ms: list[float] = dataclasses.field(default_factory=list)
    barrier_ms: list[float] = dataclasses.field(default_factory=list)
    wave_span_over_ideal_ms: list[float] = dataclasses.field(default_factory=list)
    start_ms: float = 0.0
    end_ms: float = 0.0
    max_running: int = 0
    # Wave transitions (and the run's end) that took at least half the runner's poll
    # interval: a worker slept on the poll while the wave could have ended (ms each).
    stalls_ms: list[float] = dataclasses.field(default_factory=list)
    # What those stalls cost beyond an ordinary transition (the run's median barrier).
    stall_excess_s: float = 0.0

    @property
    def speedup(self) -> float:
        return self.tasks * self.sleep / self.wall_s

    @property
    def ideal_speedup(self) -> float:
        return self.tasks * self.sleep / self.ideal_wall_s

    @property
    def pct_of_ideal(self) -> float:
        return 100.0 * self.ideal_wall_s / self.wall_s

    @property
    def overhead_per_round_ms(self) -> float:
        return 1000.0 * (self.wall_s - self.ideal_wall_s) / self.rounds

    @property
    def wall_without_stalls_s(self) -> float:
        """An estimate, not a measure: the wall minus what the poll stalls cost."""
        return self.wall_s - self.stall_excess_s

    @property
    def worker_overhead_per_task_ms(self) -> float:
        """sequential_seconds / tasks - sleep: a task's own worker time beyond the call's sleep."""
        return 1000.0 * (self.sequential_s / self.tasks - self.sleep)

    def as_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "speedup": self.speedup,
            "ideal_speedup": self.ideal_speedup,
            "pct_of_ideal": self.pct_of_ideal,
            "overhead_per_round_ms": self.overhead_per_round_ms,
            "worker_overhead_per_task_ms": self.worker_overhead_per_task_ms,
            "wall_without_stalls_s": self.wall_without_stalls_s,
        }


def rounds_for(wave_sizes: Sequence[int], concurrency: int) -> int:
    return sum(math.ceil(n / concurrency) for n in wave_sizes)


async def run_once(
    o: Orchestrator, spec: str, concurrency: int, repeat: int, sleep: float, poll: float
) -> Run:
    """One execution of a freshly ingested `spec`; `poll` is this client's GetExecution interval."""
    stub = o.stub
    created = await stub.CreateSpec(
        pb.CreateSpecRequest(
            markdown=SPECS[spec].read_text("utf-8"), name=f"bench {spec} c{concurrency} #{repeat}"
        )
    )
    spec_id = created.spec.id
    analysis = await stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=spec_id))
    sizes = [len(w.task_ids) for w in sorted(analysis.waves, key=lambda w: w.number)]
    load_before = os.getloadavg()[0]
    cpu_started, started = time.process_time(), time.perf_counter()
    execution = (
        await stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id, concurrency=concurrency))
    ).execution
    while execution.status not in FINISHED:
        await asyncio.sleep(poll)
        execution = (await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution.id))).execution
    client_wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    tasks = sum(sizes)
    rounds = rounds_for(sizes, concurrency)
    run = Run(
        spec=spec,
        concurrency=concurrency,
        repeat=repeat,
        sleep=sleep,
        tasks=tasks,
        waves=len(sizes),
        wave_sizes=sizes,
        rounds=rounds,
        status=pb.ExecutionStatus.Name(execution.status).removeprefix("EXECUTION_STATUS_"),
        tasks_completed=execution.tasks_completed,
        tasks_failed=execution.tasks_failed,
        tasks_in_review=execution.tasks_in_review,
        wall_s=execution.wall_seconds,
        client_wall_s=client_wall,
        sequential_s=execution.sequential_seconds,
        ideal_wall_s=rounds * sleep,
        total_effort=analysis.total_effort,
        critical_path_effort=analysis.critical_path_effort,
        critical_path_tasks=len(analysis.critical_path),
        cp_bound=analysis.ideal_speedup,
        cpu_s=cpu,
        load_before=load_before,
    )
    await timeline(o.settings.database_url or "", spec_id, execution.id, run)
    stalls(run, o.poll_seconds)
    return run


def stalls(run: Run, poll_seconds: float) -> None:
    """Transitions a sleeping worker held up: a wave ends only when all its workers have
    returned, so one that went to sleep for the runner's poll interval holds the barrier
    (or the run's end) that long."""
    limit = 500.0 * poll_seconds
    run.stalls_ms = [gap for gap in (*run.barrier_ms, run.end_ms) if gap >= limit]
    ordinary = [gap for gap in run.barrier_ms if gap < limit]
    usual = statistics.median(ordinary) if ordinary else 0.0
    run.stall_excess_s = sum(gap - usual for gap in run.stalls_ms) / 1000.0


TIMELINE = """
SELECT t.id::text, t.wave,
       c."timestamp" AS claimed, split_part(c.changes ->> 'reason', '/', -1) AS worker,
       a.started_at, a.finished_at,
       d."timestamp" AS done
FROM orchestrator.tasks t
JOIN orchestrator.task_attempts a ON a.task_id = t.id AND a.execution_id = %(e)s
JOIN LATERAL (
    SELECT "timestamp", changes FROM orchestrator.audit_log l
    WHERE l.entity_id = t.id AND l.action = 'STATUS_CHANGE' AND l.changes ->> 'to' = 'RUNNING'
    ORDER BY "timestamp" DESC LIMIT 1) c ON true
JOIN LATERAL (
    SELECT "timestamp" FROM orchestrator.audit_log l
    WHERE l.entity_id = t.id AND l.action = 'STATUS_CHANGE'
      AND l.changes ->> 'to' IN ('COMPLETED', 'NEEDS_REVIEW', 'FAILED')
    ORDER BY "timestamp" DESC LIMIT 1) d ON true
WHERE t.spec_id = %(s)s AND t.task_type = 'TASK'
ORDER BY c."timestamp"
"""


def _ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000.0


async def timeline(database_url: str, spec_id: str, execution_id: str, run: Run) -> None:
    """Where the time went, from what the run wrote: a task's claim (audit RUNNING), its
    GenerateCode call (task_attempts started_at: just before the call; finished_at: the
    transaction that records it, just after), its completion (audit COMPLETED)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(TIMELINE, {"e": execution_id, "s": spec_id})
        rows = await cur.fetchall()
        cur = await conn.execute(
            "SELECT started_at, finished_at FROM orchestrator.executions WHERE id = %s", (execution_id,)
        )
        bounds = await cur.fetchone()
    if not rows or bounds is None or bounds[1] is None:
        return
    ex_start, ex_end = bounds
    by_wave: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        _, wave, claimed, _worker, call_start, call_end, done = row
        by_wave[wave].append(row)
        run.claim_to_call_ms.append(_ms(claimed, call_start))
        run.call_over_sleep_ms.append(_ms(call_start, call_end) - run.sleep * 1000.0)
        run.answer_to_done_ms.append(_ms(call_end, done))
    waves = sorted(by_wave)
    for wave in waves:
        # Same worker, next task of the same wave: completion to the next claim.
        per_worker: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in by_wave[wave]:
            per_worker[row[3]].append(row)
        for mine in per_worker.values():
            mine.sort(key=lambda r: r[2])
            run.next_claim_ms.extend(_ms(a[6], b[2]) for a, b in itertools.pairwise(mine))
        first_claim = min(r[2] for r in by_wave[wave])
        last_done = max(r[6] for r in by_wave[wave])
        ideal = math.ceil(len(by_wave[wave]) / run.concurrency) * run.sleep * 1000.0
        run.wave_span_over_ideal_ms.append(_ms(first_claim, last_done) - ideal)
    for before, after in itertools.pairwise(waves):
        run.barrier_ms.append(_ms(max(r[6] for r in by_wave[before]), min(r[2] for r in by_wave[after])))
    run.start_ms = _ms(ex_start, min(r[2] for r in rows))
    run.end_ms = _ms(max(r[6] for r in rows), ex_end)
    # The most tasks between claim and completion at once.
    events = sorted([(r[2], 1) for r in rows] + [(r[6], -1) for r in rows])
    level = 0
    for _, step in events:
        level += step
        run.max_running = max(run.max_running, level)


# --------------------------------------------------------------------------- report


async def main(args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore", module="platformdirs")
    configure_logging("WARNING")
    runs: list[Run] = []
    with embedded_postgres() as (url, tmp):
        async with (
            codegen_server(args.sleep, args.codegen_in_process, tmp) as codegen,
            orchestrator(url, tmp, codegen, args.lease_seconds, args.pool_size) as o,
        ):
            console.print(
                f"orchestrator {o.server.address}, codegen stand-in {codegen} "
                f"({'in process' if args.codegen_in_process else 'own process'}), PostgreSQL {url.split('?')[0]}, "
                f"db pool {o.settings.db_pool_size}, lease {o.settings.lease_seconds:.0f} s, "
                f"runner poll {o.poll_seconds:.2f} s, GetExecution poll {args.poll:.2f} s; "
                f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work on the machine "
                "inflates the figures)"
            )
            if args.warmup:
                warm = await run_once(o, args.spec[-1], max(args.concurrency), 0, args.sleep, args.poll)
                console.print(f"warm-up: {warm.spec} c{warm.concurrency} {warm.wall_s:.3f} s (not reported)")
            for repeat in range(1, args.repeat + 1):
                for spec in args.spec:
                    for concurrency in args.concurrency:
                        run = await run_once(o, spec, concurrency, repeat, args.sleep, args.poll)
                        runs.append(run)
                        console.print(
                            f"  {spec} c{concurrency} #{repeat}: {run.status} {run.tasks_completed}/{run.tasks} "
                            f"wall {run.wall_s:.3f} s (ideal {run.ideal_wall_s:.3f} s, client saw "
                            f"{run.client_wall_s:.3f} s; load average before {run.load_before:.2f})"
                        )
            poll_seconds, lease_seconds = o.poll_seconds, o.settings.lease_seconds
    print_report(runs, args, poll_seconds, lease_seconds)
    if args.json:
        write_json(Path(args.json), args, runs, poll_seconds, lease_seconds)
        console.print(f"JSON written to {args.json}")


def write_json(
    path: Path, args: argparse.Namespace, runs: list[Run], poll_seconds: float, lease_seconds: float
) -> None:
    path.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "arguments": {k: v for k, v in vars(args).items() if k != "serve_codegen"},
                "runner_poll_seconds": poll_seconds,
                "lease_seconds": lease_seconds,
                "runs": [r.as_dict() for r in runs],
            },
            indent=2,
        ),
        "utf-8",
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sleep", type=float, default=0.2, help="seconds the codegen stand-in takes per task"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 5], help="ExecuteSpec concurrency")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per spec and concurrency (median reported)"
    )
    parser.add_argument("--spec", nargs="+", choices=sorted(SPECS), default=["task_api", "blog_ui"])
    parser.add_argument("--json", metavar="PATH", help="also write every run's figures as JSON")
    parser.add_argument("--poll", type=float, default=0.05, help="GetExecution poll interval of this client")
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=None,
        help="orchestrator LEASE_SECONDS (default: the setting's, 60)",
    )
    parser.add_argument("--pool-size", type=int, default=None, help="orchestrator DB_POOL_SIZE (default 10)")
    parser.add_argument(
        "--codegen-in-process",
        action="store_true",
        help="serve the stand-in on the orchestrator's event loop",
    )
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="skip the unreported first run"
    )
    parser.add_argument("--serve-codegen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sleep <= 0 or args.repeat < 1 or min(args.concurrency) < 1:
        parser.error("--sleep must be > 0, --repeat and --concurrency >= 1")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_codegen:
        warnings.filterwarnings("ignore", module="platformdirs")
        configure_logging("WARNING")
        asyncio.run(serve_codegen(arguments.sleep))
    else:
        asyncio.run(main(arguments))
