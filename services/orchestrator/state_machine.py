"""The task state machine: which status changes are legal, and what containers roll up to."""

from __future__ import annotations

from collections.abc import Iterable

from services.orchestrator.domain import TaskStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.READY, S.RUNNING, S.BLOCKED, S.SKIPPED}),
    S.READY: frozenset({S.RUNNING, S.PENDING, S.BLOCKED, S.SKIPPED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.NEEDS_REVIEW, S.READY}),
    S.FAILED: frozenset({S.READY, S.PENDING, S.SKIPPED}),
    S.BLOCKED: frozenset({S.READY, S.PENDING, S.SKIPPED}),
    S.NEEDS_REVIEW: frozenset({S.COMPLETED, S.READY, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.SKIPPED: frozenset(),
}

# A dependency in one of these no longer holds its dependents back.
DONE: frozenset[S] = frozenset({S.COMPLETED, S.SKIPPED})
# Moving into these requires every dependency to be done.
NEEDS_DEPENDENCIES_DONE: frozenset[S] = frozenset({S.READY, S.RUNNING})


def can_transition(current: S, target: S) -> bool:
    return target in TRANSITIONS[current]


def allowed_targets(current: S) -> list[str]:
    return sorted(TRANSITIONS[current])


def rollup(children: Iterable[S]) -> S:
    """Status of a PHASE or TASK_GROUP derived from its children's statuses."""
    statuses = set(children)
    if not statuses:
        return S.PENDING
    if statuses <= DONE:
        return S.COMPLETED
    if S.FAILED in statuses:
        return S.FAILED
    if S.NEEDS_REVIEW in statuses:
        return S.NEEDS_REVIEW
    if statuses & {S.RUNNING, S.COMPLETED, S.SKIPPED}:
        return S.RUNNING
    if statuses == {S.BLOCKED}:
        return S.BLOCKED
    if S.READY in statuses:
        return S.READY
    return S.PENDING
