"""The review queue: what low confidence or failed validation leaves for a human, and the
three decisions (approve, edit, regenerate) that take a task out of it."""

from __future__ import annotations

import json

import grpc
import pytest

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.execution.conftest import Cluster
from tests.execution.fake_codegen import ok
from tests.execution.plans import chains


async def in_review(cluster: Cluster) -> tuple[str, dict[str, c.Task]]:
    """chains() after one execution in which a, d and f went to review."""
    spec_id = await cluster.create(chains())
    t = await cluster.tasks(spec_id)
    for key in "adf":
        cluster.codegen.script(t[key].id, ok(confidence=0.3))
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    done = await cluster.wait(started.execution.id)
    assert done.tasks_in_review == 3
    return spec_id, await cluster.tasks(spec_id)


async def resolve(cluster: Cluster, task: c.Task, decision: int, **kw: object) -> c.Task:
    got = await cluster.stub.ResolveReview(pb.ResolveReviewRequest(task_id=task.id, decision=decision, **kw))
    return got.task


async def test_approve_completes_the_task_and_unblocks_its_dependents(cluster: Cluster) -> None:
    spec_id, t = await in_review(cluster)
    approved = await resolve(cluster, t["a"], pb.REVIEW_DECISION_APPROVE, comment="fine", request_id="r1")
    assert approved.status == c.TASK_STATUS_COMPLETED
    replay = await resolve(cluster, t["a"], pb.REVIEW_DECISION_APPROVE, request_id="r1")
    assert replay.version == approved.version
    after = await cluster.tasks(spec_id)
    assert after["b"].status == c.TASK_STATUS_READY
    queue = await cluster.stub.ListReviewQueue(pb.ListReviewQueueRequest(spec_id=spec_id))
    assert {i.task.key for i in queue.items} == {"d", "f"}
    reports = (await cluster.stub.ListReports(pb.ListReportsRequest(task_id=t["a"].id))).reports
    review = json.loads(reports[-1].content_json)
    assert reports[-1].type == pb.REPORT_TYPE_REVIEW
    assert (review["decision"], review["comment"]) == ("APPROVE", "fine")
    assert review["review_reason"].startswith("confidence 0.30")
    assert cluster.node.metric("devmatrix_review_queue_size") == 2
    # Not in review any more: a second decision is refused.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await resolve(cluster, t["a"], pb.REVIEW_DECISION_APPROVE)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not waiting for a review" in raised.value.details()


async def test_edit_replaces_the_files_then_completes(cluster: Cluster) -> None:
    spec_id, t = await in_review(cluster)
    before = cluster.sql("SELECT path FROM orchestrator.task_files WHERE task_id = %s", t["d"].id)
    assert len(before) == 1
    files = [
        c.GeneratedFile(path="config/settings.py", content="DEBUG = False\n", language="python"),
        c.GeneratedFile(path="config/__init__.py", content="", language="python"),
    ]
    edited = await resolve(cluster, t["d"], pb.REVIEW_DECISION_EDIT, files=files)
    assert edited.status == c.TASK_STATUS_COMPLETED
    assert cluster.sql(
        "SELECT path, content FROM orchestrator.task_files WHERE task_id = %s ORDER BY path", t["d"].id
    ) == [("config/__init__.py", ""), ("config/settings.py", "DEBUG = False\n")]
    assert (await cluster.tasks(spec_id))["e"].status == c.TASK_STATUS_READY
    for bad in ([], [c.GeneratedFile(path="../x.py", content="")]):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await resolve(cluster, t["f"], pb.REVIEW_DECISION_EDIT, files=bad)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_regenerate_runs_the_task_again_with_the_reviewers_comment(cluster: Cluster) -> None:
    spec_id, t = await in_review(cluster)
    again = await resolve(cluster, t["f"], pb.REVIEW_DECISION_REGENERATE, comment="document every endpoint")
    assert again.status == c.TASK_STATUS_READY
    cluster.codegen.script(t["f"].id, ok(confidence=0.95))
    started = await cluster.stub.ExecuteSpec(pb.ExecuteSpecRequest(spec_id=spec_id))
    done = await cluster.wait(started.execution.id)
    assert done.tasks_completed == 1  # f; a and d still wait for their reviewers
    call = cluster.codegen.calls_for(t["f"].id)[-1]
    assert call.attempt == 2
    assert "Reviewer asked for a regeneration: document every endpoint" in call.previous_error
    history = cluster.sql(
        "SELECT attempt, confidence FROM orchestrator.task_attempts WHERE task_id = %s ORDER BY id", t["f"].id
    )
    assert history == [(1, 0.3), (2, 0.95)]
    assert (await cluster.tasks(spec_id))["f"].status == c.TASK_STATUS_COMPLETED


async def test_review_errors(cluster: Cluster) -> None:
    _, t = await in_review(cluster)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await resolve(cluster, t["b"], pb.REVIEW_DECISION_APPROVE)  # PENDING, not in review
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cluster.stub.ResolveReview(
            pb.ResolveReviewRequest(task_id="00000000-0000-0000-0000-000000000000", decision=1)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    for request in (
        pb.ResolveReviewRequest(task_id=t["a"].id),
        pb.ResolveReviewRequest(
            task_id=t["a"].id, decision=pb.REVIEW_DECISION_APPROVE, files=[c.GeneratedFile(path="a.py")]
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await cluster.stub.ResolveReview(request)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await cluster.stub.ListReviewQueue(
            pb.ListReviewQueueRequest(spec_id="00000000-0000-0000-0000-000000000000")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
