"""Helpers to look inside gRPC errors the way a client would."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def details(error: grpc.aio.AioRpcError, kind: type) -> list:
    status = rpc_status.from_call(error)
    found = []
    for detail in status.details if status else ():
        if detail.Is(kind.DESCRIPTOR):
            message = kind()
            detail.Unpack(message)
            found.append(message)
    return found


def field_violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    return {
        v.field: v.description
        for bad in details(error, error_details_pb2.BadRequest)
        for v in bad.field_violations
    }


def precondition_violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    return [
        (v.type, v.subject)
        for failure in details(error, error_details_pb2.PreconditionFailure)
        for v in failure.violations
    ]
