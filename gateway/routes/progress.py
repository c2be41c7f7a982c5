"""Dependency analysis, progress and the current wave."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from devmatrix.v1 import insights_pb2
from devmatrix.v1 import orchestrator_pb2 as pb
from gateway import convert
from gateway import models as m
from gateway.deps import ClientsDep
from gateway.errors import problems

router = APIRouter(tags=["progress"])


@router.post(
    "/api/orchestration/analyze",
    response_model=m.Analysis,
    responses=problems(404, 409, 413),
    summary="Waves, critical path and parallelism of a spec (AnalyzeDependencies)",
)
async def analyze(body: m.AnalyzeBody, clients: ClientsDep) -> m.Analysis:
    """Idempotent. A dependency cycle is 409 FAILED_PRECONDITION with a `DEPENDENCY_CYCLE`
    precondition violation whose subject is the cycle (`a -> b -> a`)."""
    reply = await clients.orchestrator.AnalyzeDependencies(
        pb.AnalyzeDependenciesRequest(spec_id=body.spec_id)
    )
    return convert.analysis(body.spec_id, reply)


@router.get(
    "/api/progress/{spec_id}",
    response_model=m.Progress,
    responses=problems(404),
    summary="Counts by status overall, per phase, per wave and per agent (GetProgress)",
)
async def progress(
    spec_id: Annotated[str, Path(description="The spec's id (a UUID).")], clients: ClientsDep
) -> m.Progress:
    return convert.progress(await clients.orchestrator.GetProgress(pb.GetProgressRequest(spec_id=spec_id)))


@router.get(
    "/api/waves/current",
    response_model=m.CurrentWave,
    responses=problems(404),
    summary="The lowest wave with unfinished tasks, with its tasks (GetSpecProgress + GetWaveStatus)",
)
async def current_wave(
    spec_id: Annotated[str, Query(description="The spec's id (a UUID).")], clients: ClientsDep
) -> m.CurrentWave:
    """The spec is analysed first if it never was. When every wave is done, `wave` is null
    and `complete` true."""
    found = (
        await clients.insights.GetSpecProgress(insights_pb2.GetSpecProgressRequest(spec_id=spec_id))
    ).progress
    if found.current_wave < 0:
        return m.CurrentWave(
            spec_id=spec_id, wave=None, wave_count=len(found.waves), complete=True, counts=None, tasks=[]
        )
    wave = await clients.insights.GetWaveStatus(
        insights_pb2.GetWaveStatusRequest(spec_id=spec_id, wave=found.current_wave)
    )
    return m.CurrentWave(
        spec_id=spec_id,
        wave=wave.wave,
        wave_count=wave.wave_count,
        complete=False,
        counts=convert.counts(wave.counts),
        tasks=[convert.wave_task(t) for t in wave.tasks],
    )
