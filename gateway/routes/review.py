"""The human review queue (ListReviewQueue / ResolveReview)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from devmatrix.v1 import orchestrator_pb2 as pb
from gateway import convert
from gateway import models as m
from gateway.clients import Clients
from gateway.deps import ClientsDep, IdempotencyKey
from gateway.errors import problems

router = APIRouter(tags=["review"])
TaskId = Annotated[str, Path(description="The id of a task in NEEDS_REVIEW.")]
RESOLVED = {"response_model": m.ReviewResolved, "responses": problems(404, 409, 413)}


@router.get(
    "/api/review-queue",
    response_model=m.ReviewQueue,
    responses=problems(404),
    summary="A spec's tasks waiting for a review, with reason, confidence and files (ListReviewQueue)",
)
async def review_queue(
    spec_id: Annotated[str, Query(description="The spec's id (a UUID).")], clients: ClientsDep
) -> m.ReviewQueue:
    reply = await clients.orchestrator.ListReviewQueue(pb.ListReviewQueueRequest(spec_id=spec_id))
    return m.ReviewQueue(spec_id=spec_id, items=[convert.review_item(i) for i in reply.items])


async def _resolve(
    clients: Clients, task_id: str, decision: int, key: str, comment: str, files: list[m.File] | None = None
) -> m.ReviewResolved:
    request = pb.ResolveReviewRequest(
        request_id=key,
        task_id=task_id,
        decision=decision,
        comment=comment,
        files=[convert.file_to_pb(f) for f in files or ()],
    )
    return m.ReviewResolved(task=convert.task((await clients.orchestrator.ResolveReview(request)).task))


@router.post(
    "/api/review-queue/{task_id}/approve",
    **RESOLVED,
    summary="Accept the generated files: the task completes (ResolveReview APPROVE)",
)
async def approve(
    task_id: TaskId,
    clients: ClientsDep,
    body: m.ReviewBody | None = None,
    idempotency_key: IdempotencyKey = "",
) -> m.ReviewResolved:
    """409 when the task is not waiting for a review."""
    comment = body.comment if body else ""
    return await _resolve(clients, task_id, pb.REVIEW_DECISION_APPROVE, idempotency_key, comment)


@router.post(
    "/api/review-queue/{task_id}/regenerate",
    **RESOLVED,
    summary="Send the task back to READY for the next execution (ResolveReview REGENERATE)",
)
async def regenerate(
    task_id: TaskId,
    clients: ClientsDep,
    body: m.ReviewBody | None = None,
    idempotency_key: IdempotencyKey = "",
) -> m.ReviewResolved:
    """The comment is fed to the generator; the history is kept."""
    comment = body.comment if body else ""
    return await _resolve(clients, task_id, pb.REVIEW_DECISION_REGENERATE, idempotency_key, comment)


@router.post(
    "/api/review-queue/{task_id}/edit",
    **RESOLVED,
    summary="Replace the generated files, then complete the task (ResolveReview EDIT)",
)
async def edit(
    task_id: TaskId, body: m.EditBody, clients: ClientsDep, idempotency_key: IdempotencyKey = ""
) -> m.ReviewResolved:
    return await _resolve(
        clients, task_id, pb.REVIEW_DECISION_EDIT, idempotency_key, body.comment, body.files
    )
