"""Bad input gets INVALID_ARGUMENT naming the field, an unknown spec NOT_FOUND; and the
service keeps serving."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp

from devmatrix.v1 import insights_pb2 as ipb
from devmatrix.v1 import orchestrator_pb2 as pb
from tests.insights import scenario as sc
from tests.insights.conftest import Served, serve
from tests.integration.rpc import field_violations

UNKNOWN = str(uuid.uuid4())


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def served(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """One server for the module: bad input changes nothing, so the tests can share it."""
    async for s in serve(module_database_url, tmp_path_factory.mktemp("insights")):
        yield s


async def rejected(call, code: grpc.StatusCode) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == code, raised.value.details()
    return raised.value


SPEC_RPCS = [
    ("GetSpecProgress", ipb.GetSpecProgressRequest),
    ("GetWaveStatus", ipb.GetWaveStatusRequest),
    ("GetAgentWorkload", ipb.GetAgentWorkloadRequest),
    ("GetDashboard", ipb.GetDashboardRequest),
    ("GetScopeCreep", ipb.GetScopeCreepRequest),
]


@pytest.mark.parametrize(("method", "request_type"), SPEC_RPCS)
@pytest.mark.parametrize("spec_id", ["", "not-a-uuid", "1234"])
async def test_malformed_spec_ids(served: Served, method: str, request_type: type, spec_id: str) -> None:
    error = await rejected(
        getattr(served.insights, method)(request_type(spec_id=spec_id)), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "spec_id" in field_violations(error)
    assert "spec_id" in (error.details() or "")


@pytest.mark.parametrize(("method", "request_type"), SPEC_RPCS)
async def test_unknown_spec(served: Served, method: str, request_type: type) -> None:
    error = await rejected(
        getattr(served.insights, method)(request_type(spec_id=UNKNOWN)), grpc.StatusCode.NOT_FOUND
    )
    assert UNKNOWN in (error.details() or "")


async def test_slowest_agents_spec_filter_is_checked(served: Served) -> None:
    error = await rejected(
        served.insights.GetSlowestAgents(ipb.GetSlowestAgentsRequest(spec_id="nope")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "spec_id" in field_violations(error)
    await rejected(
        served.insights.GetSlowestAgents(ipb.GetSlowestAgentsRequest(spec_id=UNKNOWN)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_waves_out_of_range(served: Served) -> None:
    created = await served.orchestrator.CreateSpec(pb.CreateSpecRequest(plan_json=sc.plans.diamond()))
    error = await rejected(
        served.insights.GetWaveStatus(ipb.GetWaveStatusRequest(spec_id=created.spec.id, wave=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "wave" in field_violations(error)
    error = await rejected(
        served.insights.GetWaveStatus(ipb.GetWaveStatusRequest(spec_id=created.spec.id, wave=3)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert "no wave 3 (3 waves: 0..2)" in (error.details() or "")
    ok = await served.insights.GetWaveStatus(ipb.GetWaveStatusRequest(spec_id=created.spec.id, wave=2))
    assert [t.key for t in ok.tasks] == ["d"]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ipb.FindSimilarFailuresRequest(), "text"),
        (ipb.FindSimilarFailuresRequest(text="   \n"), "text"),
        (ipb.FindSimilarFailuresRequest(text="x" * 2001), "text"),
        (ipb.FindSimilarFailuresRequest(text="x", top_k=51), "top_k"),
        (ipb.FindSimilarFailuresRequest(text="x", top_k=-1), "top_k"),
        (ipb.FindSimilarFailuresRequest(text="x", similarity_threshold=1.5), "similarity_threshold"),
        (ipb.FindSimilarFailuresRequest(text="x", similarity_threshold=float("nan")), "similarity_threshold"),
        (ipb.FindSimilarFailuresRequest(text="x", similarity_threshold=-0.1), "similarity_threshold"),
    ],
)
async def test_bad_failure_searches(
    served: Served, request_: ipb.FindSimilarFailuresRequest, field: str
) -> None:
    error = await rejected(served.insights.FindSimilarFailures(request_), grpc.StatusCode.INVALID_ARGUMENT)
    assert field in field_violations(error)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ipb.GetSlowestAgentsRequest(limit=101), "limit"),
        (ipb.GetSlowestAgentsRequest(limit=-5), "limit"),
        (ipb.GetSlowestAgentsRequest(since=Timestamp(seconds=1, nanos=-1)), "since"),
    ],
)
async def test_bad_slowest_agents(served: Served, request_: ipb.GetSlowestAgentsRequest, field: str) -> None:
    error = await rejected(served.insights.GetSlowestAgents(request_), grpc.StatusCode.INVALID_ARGUMENT)
    assert field in field_violations(error)


async def test_bad_estimate_kind(served: Served) -> None:
    error = await rejected(
        served.insights.GetEstimateCorrection(ipb.GetEstimateCorrectionRequest(kind=99)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "kind" in field_violations(error)


@pytest.mark.parametrize("days", [-1, 36501])
async def test_bad_retention_days(served: Served, days: int) -> None:
    error = await rejected(
        served.insights.RunRetention(ipb.RunRetentionRequest(retention_days=days)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "retention_days" in field_violations(error)
    # ...and nothing was deleted, the service still answers.
    ok = await served.insights.RunRetention(ipb.RunRetentionRequest(dry_run=True))
    assert ok.agent_logs_deleted == 0
