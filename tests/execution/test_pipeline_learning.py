"""Phase 10 after an execution against the scripted codegen (which reports token usage) and
the real patterns service: the run's tokens and cost are summed from the implementation
reports, failures are stored with their lesson, and the estimates give correction factors."""

from __future__ import annotations

import grpc

from devmatrix.cli.mesh import start_mesh
from devmatrix.pipeline.clients import Clients
from devmatrix.pipeline.learning import learn, lesson_of
from devmatrix.pipeline.summary import RunSummary
from devmatrix.runtime.channels import open_channel
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import patterns_pb2
from tests.execution.conftest import Cluster
from tests.execution.fake_codegen import fail
from tests.execution.plans import chains


async def test_learning_sums_usage_and_stores_failures_with_lessons(cluster: Cluster) -> None:
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    refusal = "task d: it needs the Anthropic generator (set ANTHROPIC_API_KEY)"
    cluster.codegen.script(t["d"].id, fail(grpc.StatusCode.FAILED_PRECONDITION, refusal))
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    done = await cluster.wait(started.execution.id)
    patterns = await start_mesh(cluster.node.settings, ephemeral=True, services=("patterns",))
    channels = {
        "orchestrator": open_channel(cluster.node.server.address, 30.0),
        "codegen": open_channel(cluster.codegen_server.address, 30.0),
        "skills": open_channel(cluster.codegen_server.address, 30.0),  # not called here
        "patterns": open_channel(patterns[0].address, 30.0),
    }
    try:
        clients = Clients.of(channels, generation_deadline=5.0)
        summary = RunSummary(spec_id=spec_id, execution_id=done.id)
        summary.failures = [
            {"task": "d", "status": "FAILED", "reason": f"codegen FAILED_PRECONDITION: {refusal}"},
            {"task": "e", "status": "BLOCKED", "reason": "blocked by a failed dependency"},
        ]
        ok, line = await learn(clients, summary)
        assert ok, line
        # Four tasks generated once each, the scripted usage being 100 in, 40 out, $0.002.
        assert (summary.tokens_in, summary.tokens_out, summary.cost_usd) == (400, 160, 0.008)
        assert summary.reuse_rate == 0.0 and summary.patterns_stored == 0
        assert summary.failures[0]["lesson"] == lesson_of("ANTHROPIC_API_KEY")
        assert "lesson" not in summary.failures[1]  # blocked, not failed: nothing to learn
        found = await clients.patterns.SearchFailures(
            patterns_pb2.SearchFailuresRequest(query="Anthropic generator key", top_k=5)
        )
        [stored] = [m.failure for m in found.matches if m.failure.task_id == t["d"].id]
        assert "ANTHROPIC_API_KEY" in stored.lesson and "ANTHROPIC_API_KEY" in stored.error
        assert summary.estimate_correction["samples"] >= 4
        assert "1 failures with lessons" in line
    finally:
        for channel in channels.values():
            await channel.close()
        await patterns[0].stop(0)
