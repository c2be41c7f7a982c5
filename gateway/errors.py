"""Errors as HTTP problems (RFC 9457 `application/problem+json`).

A gRPC status from a service becomes the HTTP status of the table below, with the
`google.rpc.Status` details that name the problem (BadRequest field violations,
PreconditionFailure violations, ResourceInfo) and the request id. The gateway's own
refusals (bad query parameters, oversized bodies, unknown routes) use the same body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

# gRPC status -> HTTP status, as the gateway answers it.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
# HTTP statuses the gateway answers itself, with the gRPC-style code its body names.
HTTP_CODES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "FAILED_PRECONDITION",
    413: "PAYLOAD_TOO_LARGE",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class FieldViolation(BaseModel):
    field: str = Field(description="The request field, path or query parameter at fault.")
    description: str


class PreconditionViolation(BaseModel):
    type: str = Field(description="e.g. DEPENDENCY_CYCLE, ILLEGAL_TRANSITION, TASK_NOT_READY.")
    subject: str = Field(description="What the violation is about (a task id, a cycle `a -> b -> a`).")
    description: str


class ResourceRef(BaseModel):
    type: str
    name: str


class Problem(BaseModel):
    """An error: the HTTP status, the gRPC-style code, what went wrong and the request id."""

    type: str = "about:blank"
    title: str = Field(description="The HTTP status phrase.")
    status: int
    code: str = Field(description="gRPC status name (NOT_FOUND, INVALID_ARGUMENT ...) or PAYLOAD_TOO_LARGE.")
    detail: str
    request_id: str = Field(description="The X-Request-Id of the request, also in the services' logs.")
    service: str | None = Field(default=None, description="The service that refused, when one did.")
    field_violations: list[FieldViolation] = []
    precondition_violations: list[PreconditionViolation] = []
    resource: ResourceRef | None = None


class ApiError(Exception):
    """A refusal by the gateway itself (the services' own come as UpstreamError)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        fields: Iterable[tuple[str, str]] = (),
        preconditions: Iterable[tuple[str, str, str]] = (),
        resource: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.code = code or HTTP_CODES.get(status, HTTPStatus(status).name)
        self.fields = [FieldViolation(field=f, description=d) for f, d in fields]
        self.preconditions = [
            PreconditionViolation(type=t, subject=s, description=d) for t, s, d in preconditions
        ]
        self.resource = ResourceRef(type=resource[0], name=resource[1]) if resource else None


class UpstreamError(Exception):
    """A gRPC call to `service` failed. `rename` maps the request field names the service
    reports to the HTTP request's, when they differ (e.g. `text` -> `markdown`)."""

    def __init__(self, service: str, error: grpc.aio.AioRpcError) -> None:
        super().__init__(f"{service}: {error.code().name}: {error.details()}")
        self.service, self.error = service, error
        self.rename: Callable[[str], str] = str


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def problem(
    status: int,
    code: str,
    detail: str,
    request_id: str,
    **extra: Any,
) -> Problem:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Client Closed Request" if status == 499 else "Error"
    return Problem(title=title, status=status, code=code, detail=detail, request_id=request_id, **extra)


def problem_response(body: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body.model_dump(mode="json"), status_code=body.status, media_type=PROBLEM_JSON, headers=headers
    )


def upstream_problem(error: UpstreamError, request_id: str) -> Problem:
    """The gRPC status of a failed call with the details the service attached."""
    code = error.error.code()
    status = HTTP_STATUS.get(code, 500)
    details = error.error.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        details = f"the {error.service} service is unavailable: {details}"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        details = f"the {error.service} service did not answer in time: {details}"
    fields: list[FieldViolation] = []
    preconditions: list[PreconditionViolation] = []
    resource: ResourceRef | None = None
    try:
        rich = rpc_status.from_call(error.error)
    except ValueError:  # a status whose details disagree with its code: keep the plain one
        rich = None
    for detail in rich.details if rich else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [
                FieldViolation(field=error.rename(v.field), description=v.description)
                for v in bad.field_violations
            ]
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            preconditions += [
                PreconditionViolation(type=v.type, subject=v.subject, description=v.description)
                for v in failure.violations
            ]
        elif detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            info = error_details_pb2.ResourceInfo()
            detail.Unpack(info)
            resource = ResourceRef(type=info.resource_type, name=info.resource_name)
    return problem(
        status,
        code.name,
        details,
        request_id,
        service=error.service,
        field_violations=fields,
        precondition_violations=preconditions,
        resource=resource,
    )


def api_problem(error: ApiError, request_id: str) -> Problem:
    return problem(
        error.status,
        error.code,
        error.detail,
        request_id,
        field_violations=error.fields,
        precondition_violations=error.preconditions,
        resource=error.resource,
    )


def _field_name(loc: Iterable[Any]) -> str:
    """("query", "page_size") -> "page_size"; ("body", "files", 0, "path") -> "files[0].path"."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def validation_problem(error: RequestValidationError, request_id: str) -> Problem:
    fields = [
        FieldViolation(
            field="body" if e.get("type") == "json_invalid" else _field_name(e.get("loc", ())),
            description=str(e.get("msg", "invalid")),
        )
        for e in error.errors()
    ]
    named = ", ".join(dict.fromkeys(f.field for f in fields)) or "the request"
    return problem(400, "INVALID_ARGUMENT", f"invalid {named}", request_id, field_violations=fields)


def install_error_handlers(app: FastAPI) -> None:
    async def on_upstream(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, UpstreamError)
        return problem_response(upstream_problem(error, request_id_of(request)))

    async def on_api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return problem_response(api_problem(error, request_id_of(request)))

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return problem_response(validation_problem(error, request_id_of(request)))

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        status = error.status_code
        detail = error.detail if isinstance(error.detail, str) else HTTPStatus(status).phrase
        if status == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        body = problem(
            status, HTTP_CODES.get(status, HTTPStatus(status).name), detail, request_id_of(request)
        )
        return problem_response(body, dict(error.headers or {}))

    app.add_exception_handler(UpstreamError, on_upstream)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route's error statuses (400, 500, 503 and 504 always)."""
    described = {
        400: "Invalid argument: the body names each field at fault.",
        404: "Not found: the body names the resource.",
        409: "Conflict: a failed precondition (illegal transition, dependency cycle ...) or already exists.",
        413: "The request body is larger than GATEWAY_MAX_BODY_BYTES.",
        500: "Internal error (the request id is in the logs).",
        503: "A service the route needs is unavailable.",
        504: "A service did not answer within its deadline.",
    }
    wanted = sorted({400, 500, 503, 504, *statuses})
    return {s: {"model": Problem, "description": described.get(s, HTTPStatus(s).phrase)} for s in wanted}
