"""Bad input gets the right status code, a message naming the problem, and changes nothing."""

from __future__ import annotations

import itertools
import json
import uuid

import grpc
import psycopg
import pytest

from devmatrix.v1 import common_pb2 as c
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.fixtures.mesh import Orchestrator
from tests.integration import plans
from tests.integration.rpc import field_violations, precondition_violations

TABLES = ("specs", "requirements", "tasks", "task_dependencies", "audit_log", "waves", "reports")


def row_counts(o: Orchestrator) -> dict[str, int]:
    with psycopg.connect(o.settings.database_url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM orchestrator.{t}").fetchone()[0] for t in TABLES}


async def rejected(call, code: grpc.StatusCode) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == code, raised.value.details()
    return raised.value


@pytest.fixture
async def stored(orchestrator: Orchestrator) -> pb.CreateSpecResponse:
    """One good spec, so every bad call below is checked to leave it untouched."""
    return await orchestrator.stub.CreateSpec(pb.CreateSpecRequest(plan_json=plans.diamond()))


async def assert_unchanged(o: Orchestrator, before: dict[str, int]) -> None:
    assert row_counts(o) == before
    # ...and the service keeps serving.
    listed = await o.stub.ListSpecs(pb.ListSpecsRequest())
    assert len(listed.specs) == 1


@pytest.mark.parametrize(
    ("request_", "field", "words"),
    [
        (pb.CreateSpecRequest(), "source", "markdown or plan_json"),
        (pb.CreateSpecRequest(markdown=""), "", "empty"),
        (pb.CreateSpecRequest(markdown="   \n\n  "), "", "empty"),
        (pb.CreateSpecRequest(markdown="just some words without any heading"), "", ""),
        (pb.CreateSpecRequest(markdown="# Title\x00\x01binary"), "", ""),
        (pb.CreateSpecRequest(plan_json="{not json"), "plan_json", ""),
        (pb.CreateSpecRequest(plan_json="[]"), "", ""),
        (pb.CreateSpecRequest(plan_json=json.dumps({"spec": {"title": "x"}, "tasks": []})), "tasks", ""),
        (pb.CreateSpecRequest(markdown="# x\n" + "a" * (2 * 1024 * 1024)), "markdown", "limit"),
        (pb.CreateSpecRequest(plan_json=plans.diamond(), request_id="r" * 129), "request_id", "128"),
    ],
)
async def test_malformed_specs_are_invalid_arguments(
    orchestrator: Orchestrator,
    stored: pb.CreateSpecResponse,
    request_: pb.CreateSpecRequest,
    field: str,
    words: str,
) -> None:
    before = row_counts(orchestrator)
    error = await rejected(orchestrator.stub.CreateSpec(request_), grpc.StatusCode.INVALID_ARGUMENT)
    assert error.details()
    violations = field_violations(error)
    assert violations, "a BadRequest detail names the problem"
    if field:
        assert any(f.startswith(field) for f in violations), violations
    assert words.lower() in (error.details() + " ".join(violations.values())).lower()
    await assert_unchanged(orchestrator, before)


def plan_with(**task_overrides: object) -> str:
    tasks = json.loads(plans.diamond())["tasks"]
    for key, value in task_overrides.items():
        index, attribute = key.split("__")
        tasks[int(index[1:])][attribute] = value
    return plans.plan(tasks)


@pytest.mark.parametrize(
    ("plan_json", "field"),
    [
        (plan_with(t3__depends_on=["nope"]), "tasks[3].depends_on[0]"),
        (plan_with(t3__key="a"), "tasks[3].key"),
        (plan_with(t3__type="EPIC"), "tasks[3].type"),
        (plan_with(t3__effort="lots"), "tasks[3].effort"),
        (plan_with(t3__effort=-4), "tasks[3].effort"),
        (plan_with(t3__depends_on="a"), "tasks[3].depends_on"),
        (plan_with(t3__parent="missing"), "tasks[3].parent"),
        (plan_with(t3__skills=["telepathy"]), "tasks[3].skills[0]"),
        (plan_with(t3__name=""), "tasks[3].name"),
    ],
)
async def test_bad_plans_name_the_field(
    orchestrator: Orchestrator, stored: pb.CreateSpecResponse, plan_json: str, field: str
) -> None:
    before = row_counts(orchestrator)
    error = await rejected(
        orchestrator.stub.CreateSpec(pb.CreateSpecRequest(plan_json=plan_json)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert field in field_violations(error), field_violations(error)
    await assert_unchanged(orchestrator, before)


async def test_a_cycle_is_named_and_nothing_is_stored(
    orchestrator: Orchestrator, stored: pb.CreateSpecResponse
) -> None:
    before = row_counts(orchestrator)
    error = await rejected(
        orchestrator.stub.CreateSpec(pb.CreateSpecRequest(plan_json=plans.cyclic())),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    cycles = [
        subject.split(" -> ")
        for kind, subject in precondition_violations(error)
        if kind == "DEPENDENCY_CYCLE"
    ]
    assert cycles, precondition_violations(error)
    cycle = cycles[0]
    assert cycle[0] == cycle[-1] and set(cycle) == {"x", "y", "z"}
    depends_on = {"x": "z", "y": "x", "z": "y"}
    assert all(depends_on[a] == b for a, b in itertools.pairwise(cycle))
    assert " -> ".join(cycle) in error.details()
    await assert_unchanged(orchestrator, before)


async def test_unknown_ids_are_not_found(orchestrator: Orchestrator, stored: pb.CreateSpecResponse) -> None:
    missing = str(uuid.uuid4())
    s = orchestrator.stub
    for call in (
        s.GetSpec(pb.GetSpecRequest(spec_id=missing)),
        s.GetTaskTree(pb.GetTaskTreeRequest(spec_id=missing)),
        s.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=missing)),
        s.GetProgress(pb.GetProgressRequest(spec_id=missing)),
        s.GetTask(pb.GetTaskRequest(task_id=missing)),
        s.UpdateTaskStatus(pb.UpdateTaskStatusRequest(task_id=missing, status=c.TASK_STATUS_RUNNING)),
        s.ListReports(pb.ListReportsRequest(task_id=missing)),
    ):
        error = await rejected(call, grpc.StatusCode.NOT_FOUND)
        assert missing in error.details()
    stream = s.WatchProgress(pb.WatchProgressRequest(spec_id=missing))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stream.read()
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_malformed_ids_enums_and_tokens_are_invalid(
    orchestrator: Orchestrator, stored: pb.CreateSpecResponse
) -> None:
    before = row_counts(orchestrator)
    s = orchestrator.stub
    spec_id = stored.spec.id
    task = (await s.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec_id, type=c.TASK_TYPE_TASK))).tasks[0]
    cases = [
        (s.GetSpec(pb.GetSpecRequest(spec_id="not-a-uuid")), "spec_id"),
        (s.GetTask(pb.GetTaskRequest(task_id="")), "task_id"),
        (s.UpdateTaskStatus(pb.UpdateTaskStatusRequest(task_id=task.id, status=99)), "status"),
        (s.UpdateTaskStatus(pb.UpdateTaskStatusRequest(task_id=task.id)), "status"),
        (
            s.UpdateTaskStatus(pb.UpdateTaskStatusRequest(task_id=task.id, status=3, reason="x" * 3000)),
            "reason",
        ),
        (s.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec_id, page_token="garbage")), "page_token"),
        (s.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec_id, page_size=-1)), "page_size"),
        (s.GetTaskTree(pb.GetTaskTreeRequest(spec_id=spec_id, type=42)), "type"),
        (s.AddReport(pb.AddReportRequest(task_id=task.id, content_json="{}")), "type"),
        (s.AddReport(pb.AddReportRequest(task_id=task.id, type=1, content_json="[1]")), "content_json"),
    ]
    for call, field in cases:
        error = await rejected(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert field in field_violations(error), (field, error.details())
    await assert_unchanged(orchestrator, before)


async def test_a_page_token_of_another_spec_is_refused(
    orchestrator: Orchestrator, stored: pb.CreateSpecResponse
) -> None:
    other = await orchestrator.stub.CreateSpec(pb.CreateSpecRequest(plan_json=plans.diamond("Other")))
    page = await orchestrator.stub.GetTaskTree(pb.GetTaskTreeRequest(spec_id=stored.spec.id, page_size=2))
    await rejected(
        orchestrator.stub.GetTaskTree(
            pb.GetTaskTreeRequest(spec_id=other.spec.id, page_token=page.next_page_token)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
