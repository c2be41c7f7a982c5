"""Liveness, readiness, metrics and the index of the gateway itself."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway import models as m
from gateway.deps import ClientsDep

router = APIRouter(tags=["system"])


@router.get("/", summary="Where things are")
async def index() -> dict[str, str]:
    return {"name": "DevMatrix gateway", "api": "/api", "docs": "/docs", "openapi": "/openapi.json"}


@router.get("/health/live", response_model=m.Health, summary="The gateway process answers")
async def live() -> m.Health:
    return m.Health(status="ok")


@router.get(
    "/health/ready",
    response_model=m.Health,
    responses={503: {"model": m.Health, "description": "The orchestrator is not serving."}},
    summary="The orchestrator serves (every service's grpc health is listed)",
)
async def ready(clients: ClientsDep) -> JSONResponse:
    services = await clients.health()
    serving = services["orchestrator"] == "SERVING"
    body = m.Health(status="ready" if serving else "not ready", services=services)
    return JSONResponse(body.model_dump(), status_code=200 if serving else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text."}
    },
    summary="Prometheus metrics: devmatrix_http_requests_total, devmatrix_http_request_seconds",
)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
