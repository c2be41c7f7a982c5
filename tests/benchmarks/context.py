"""Context benchmarks over real gRPC: the orchestrator on a real PostgreSQL (pgserver), the
patterns and skills fakes of tests/context (realistic content, no model), the context
service with the in-process cache.

    .venv/bin/python -m tests.benchmarks.context [--rounds 200]

Prints GetContext p50/p99 cold (bypass_cache) and cached for each level on a task of
examples/specs/task_api.md, and the CompareWithFullMarkdown figures for every task of that
spec (median reduction per level). Not part of the test suite: measured, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import Settings
from devmatrix.runtime.logging import configure_logging
from devmatrix.runtime.server import start_server
from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import context_pb2 as cpb
from devmatrix.v1 import context_pb2_grpc, orchestrator_pb2_grpc
from devmatrix.v1 import orchestrator_pb2 as pb
from services.context.app import build as build_context
from services.orchestrator.app import build as build_orchestrator
from tests.context.fakes import FakePatterns, FakeSkills, fake_app

ROOT = Path(__file__).resolve().parents[2]
LEVELS = {
    "minimal": cpb.CONTEXT_LEVEL_MINIMAL,
    "standard": cpb.CONTEXT_LEVEL_STANDARD,
    "extended": cpb.CONTEXT_LEVEL_EXTENDED,
}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(rounds: int) -> None:
    warnings.filterwarnings("ignore", module="platformdirs")
    import pgserver

    with tempfile.TemporaryDirectory(prefix="devmatrix-bench-") as tmp:
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        settings = Settings(
            data_dir=Path(tmp), bind_host="127.0.0.1", database_url=pg.get_uri(), db_pool_size=4
        )
        servers = []
        try:
            orch = await start_server(build_orchestrator, settings, "orchestrator", port=0, metrics_port=0)
            pat = await start_server(
                fake_app("patterns", FakePatterns()), settings, "patterns", port=0, metrics_port=0
            )
            ski = await start_server(
                fake_app("skills", FakeSkills()), settings, "skills", port=0, metrics_port=0
            )
            servers += [orch, pat, ski]
            ctx_settings = dataclasses.replace(
                settings, addrs={"orchestrator": orch.address, "patterns": pat.address, "skills": ski.address}
            )
            ctx = await start_server(build_context, ctx_settings, "context", port=0, metrics_port=0)
            servers.append(ctx)
            o_channel, c_channel = open_channel(orch.address, 30.0), open_channel(ctx.address, 30.0)
            o = orchestrator_pb2_grpc.OrchestratorServiceStub(o_channel)
            stub = context_pb2_grpc.ContextServiceStub(c_channel)
            created = await o.CreateSpec(
                pb.CreateSpecRequest(markdown=(ROOT / "examples/specs/task_api.md").read_text())
            )
            await o.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=created.spec.id))
            tasks = list(
                (
                    await o.GetTaskTree(
                        pb.GetTaskTreeRequest(spec_id=created.spec.id, type=c.TASK_TYPE_TASK, page_size=2000)
                    )
                ).tasks
            )
            task = max(tasks, key=lambda t: (len(t.depends_on), len(t.acceptance_criteria)))
            print(
                f"GetContext on task {task.key} ({len(task.depends_on)} dependencies), {rounds} calls each:"
            )
            for name, level in LEVELS.items():
                for mode in ("cold", "cached"):
                    samples, size = [], 0
                    await stub.GetContext(cpb.GetContextRequest(task_id=task.id, level=level))  # warm
                    for _ in range(rounds):
                        started = time.perf_counter()
                        r = await stub.GetContext(
                            cpb.GetContextRequest(task_id=task.id, level=level, bypass_cache=mode == "cold")
                        )
                        samples.append(time.perf_counter() - started)
                        size = r.total_bytes
                        assert r.cache_hit == (mode == "cached")
                    print(
                        f"  {name:8} {mode:6} p50 {pct(samples, 0.5):6.2f} ms  p99 {pct(samples, 0.99):6.2f} ms  "
                        f"({size} bytes)"
                    )
            print(f"CompareWithFullMarkdown, every task of task_api.md ({len(tasks)} tasks):")
            for name, level in LEVELS.items():
                results = [
                    await stub.CompareWithFullMarkdown(
                        cpb.CompareWithFullMarkdownRequest(task_id=t.id, level=level)
                    )
                    for t in tasks
                ]
                full = results[0]
                print(
                    f"  {name:8} full markdown {full.full_markdown_bytes} bytes / {full.full_markdown_tokens} tokens; "
                    f"context median {statistics.median(r.context_bytes for r in results):.0f} bytes / "
                    f"{statistics.median(r.context_tokens for r in results):.0f} tokens; median reduction "
                    f"{statistics.median(r.reduction for r in results):.1%} tokens, "
                    f"{statistics.median(r.byte_reduction for r in results):.1%} bytes; "
                    f"all facts present in {sum(r.all_facts_present for r in results)}/{len(results)}"
                )
            await o_channel.close()
            await c_channel.close()
        finally:
            for server in reversed(servers):
                await server.stop(0)
            pg.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    configure_logging("WARNING")
    asyncio.run(main(args.rounds))
