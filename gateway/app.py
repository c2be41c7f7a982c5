"""The gateway's FastAPI app: an HTTP/JSON API in front of the mesh that talks to the
services only through their gRPC APIs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from devmatrix.runtime.config import Settings
from gateway.clients import open_clients
from gateway.errors import PROBLEM_JSON, install_error_handlers
from gateway.metrics import HttpMetrics
from gateway.middleware import BodyLimit, RequestContext
from gateway.routes import events, patterns, progress, review, skills, specs, system, tasks

ROUTERS = (specs, tasks, progress, events, patterns, skills, review, system)
DESCRIPTION = """
The DevMatrix mesh over HTTP/JSON. Every route calls the services' gRPC APIs.

**Errors** are `application/problem+json` (`Problem`): the gRPC status becomes the HTTP
status (INVALID_ARGUMENT 400, NOT_FOUND 404, FAILED_PRECONDITION / ALREADY_EXISTS /
ABORTED 409, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, INTERNAL 500),
`code` names the gRPC status, and `field_violations`, `precondition_violations` and
`resource` carry the details the service gave. Invalid query or body values are 400 with
the field names, a body over the limit is 413.

**Request ids**: send `X-Request-Id` (letters, digits, `._:-`, at most 128) or one is made;
it is echoed in the response, sent to the services as `x-request-id` metadata (their logs
carry it) and named in every error body.

**Idempotency**: POST routes that create or run something take `Idempotency-Key`; a retry
with the same key returns the first result.
"""


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, made to match what the server answers: no 422 (invalid requests
    are 400 problems), problem bodies as application/problem+json, X-Request-Id on every
    response."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    request_id = {
        "description": "The request id (the caller's, or a new one).",
        "schema": {"type": "string"},
    }
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for response in responses.values():
                content = response.get("content", {})
                ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
                if ref.endswith("/Problem"):
                    content[PROBLEM_JSON] = content.pop("application/json")
                response.setdefault("headers", {})["X-Request-Id"] = request_id
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings) -> FastAPI:
    metrics = HttpMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clients = open_clients(settings)
        app.state.clients = clients
        try:
            yield
        finally:
            await clients.close()

    app = FastAPI(title="DevMatrix gateway", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    for module in ROUTERS:
        app.include_router(module.router)
    install_error_handlers(app)
    # Added innermost first: the request context wraps CORS, which wraps the body limit,
    # so a 413 still carries the request id and the CORS headers.
    app.add_middleware(BodyLimit, limit=settings.gateway_max_body_bytes)
    if settings.gateway_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.gateway_cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "X-Request-Id", "Idempotency-Key", "Last-Event-ID"],
            expose_headers=["X-Request-Id", "Location"],
            max_age=600,
        )
    # The routes as declared (FastAPI keeps included routers as opaque branches): the
    # request context labels metrics with the template a request matches.
    declared = [route for module in ROUTERS for route in module.router.routes]
    app.add_middleware(RequestContext, metrics=metrics, routes=lambda: declared)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
