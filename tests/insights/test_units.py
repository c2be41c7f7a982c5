"""The pure parts: the ETA model, the failure-text query, the request checks."""

from __future__ import annotations

import pytest

from devmatrix.runtime.errors import InvalidArgument
from services.orchestrator.insights import convert
from services.orchestrator.insights.learning import MAX_SEARCH_WORDS, search_words
from services.orchestrator.insights.monitor import eta_of
from services.orchestrator.insights.records import ScopeCreep, TaskRun


def run(status: str, wave: int | None, seconds: float = 0.0, recorded: int = 0) -> TaskRun:
    return TaskRun(
        id="t", key="k", name="n", status=status, kind="API", phase=3, effort=1, wave=wave, agent="",
        attempts=recorded, confidence=0.0, depends_on=[], duration_seconds=seconds, recorded_attempts=recorded,
        position=0,
    )  # fmt: skip


def test_eta_runs_waves_in_sequence_and_a_wave_concurrency_at_a_time() -> None:
    runs = [
        run("COMPLETED", 0, 30.0, 1),
        run("COMPLETED", 0, 90.0, 2),
        run("COMPLETED", 0),  # moved by hand: not measured
        run("FAILED", 0, 500.0, 3),  # not completed: not measured, not remaining
        *(run("PENDING", 1) for _ in range(5)),
        run("RUNNING", 2),
        run("BLOCKED", 2),
        run("NEEDS_REVIEW", 2),
        run("READY", None),  # not analyzed yet: a group of its own
    ]
    eta = eta_of(runs, 2)
    assert (eta.known, eta.measured_tasks, eta.remaining_tasks, eta.average_task_seconds) == (
        True,
        2,
        8,
        60.0,
    )
    assert eta.seconds == (3 + 1 + 1) * 60.0
    assert eta_of(runs, 0).concurrency == 1
    assert eta_of(runs, 0).seconds == 8 * 60.0
    unknown = eta_of([run("PENDING", 0)], 4)
    assert (unknown.known, unknown.seconds, unknown.remaining_tasks) == (False, 0.0, 1)


def test_search_words_match_any_word_once() -> None:
    assert search_words("Connection refused, connection REFUSED or not") == "connection or refused or not"
    assert search_words("'; DROP TABLE x; -- | & !") == "drop or table or x"
    assert search_words("   ") == ""
    assert search_words(" ".join(f"w{i}" for i in range(100))).count(" or ") == MAX_SEARCH_WORDS - 1


def test_scope_creep_without_planned_tasks() -> None:
    creep = ScopeCreep("s", 0, 2, 2, 0, 0, 1.5)
    assert (creep.actual_tasks, creep.ratio, creep.creeping) == (2, 0.0, False)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: convert.require_uuid("", "spec_id"), "spec_id"),
        (lambda: convert.bounded(-1, "top_k", 5, 50), "top_k"),
        (lambda: convert.text("\t"), "text"),
        (lambda: convert.unit(float("inf"), "similarity_threshold"), "similarity_threshold"),
        (lambda: convert.kind(-3), "kind"),
        (lambda: convert.retention_days(0 - 7, 90), "retention_days"),
    ],
)
def test_request_checks_name_their_field(call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument) as raised:
        call()
    assert [v.field for v in raised.value.violations] == [field]
    assert field in raised.value.message


def test_request_defaults() -> None:
    assert convert.bounded(0, "limit", 10, 100) == 10
    assert convert.retention_days(0, 90) == 90
    assert convert.kind(0) is None
    assert (
        convert.require_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF", "x")
        == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    )
