"""An upstream service's error status as the domain error this service answers with.

A caller's mistake (NOT_FOUND, INVALID_ARGUMENT with its field violations,
FAILED_PRECONDITION) passes through unchanged, so the end user sees what was wrong; any
other failure of the upstream is this service's UNAVAILABLE, naming the upstream.
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from devmatrix.runtime.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)


def upstream_error(error: grpc.aio.AioRpcError, service: str, resource_type: str = "") -> DomainError:
    code, message = error.code(), error.details() or ""
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(message, resource_type=resource_type)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        violations: list[FieldViolation] = []
        status = rpc_status.from_call(error)
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        return InvalidArgument(message, violations)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPrecondition(message)
    return Unavailable(f"{service} unavailable: {code.name}: {message}")
