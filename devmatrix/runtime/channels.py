"""Client channels: a default deadline on every unary call, the request id carried
across services, and transparent retries for idempotent reads only."""

from __future__ import annotations

import contextvars
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from devmatrix.runtime.interceptors import REQUEST_ID_KEY

# Set by callers (and bound by the server interceptor's logs) to correlate a chain of calls.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_request_id", default=None
)


def _with_defaults(details: grpc.aio.ClientCallDetails, timeout: float | None) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    if REQUEST_ID_KEY not in metadata:
        metadata.add(REQUEST_ID_KEY, current_request_id.get() or uuid.uuid4().hex)
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout if details.timeout is not None else timeout,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _UnaryDefaults(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    async def intercept_unary_unary(self, continuation: Callable, details: Any, request: Any) -> Any:
        return await continuation(_with_defaults(details, self._timeout), request)


class _StreamDefaults(grpc.aio.UnaryStreamClientInterceptor):
    """Streams are long-lived: they get the request id but no default deadline."""

    async def intercept_unary_stream(self, continuation: Callable, details: Any, request: Any) -> Any:
        return await continuation(_with_defaults(details, None), request)


def _retry_config(idempotent: Sequence[tuple[str, str]]) -> str:
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": service, "method": method} for service, method in idempotent],
                    "retryPolicy": {
                        "maxAttempts": 3,
                        "initialBackoff": "0.05s",
                        "maxBackoff": "0.5s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def open_channel(
    address: str,
    deadline_seconds: float,
    idempotent: Sequence[tuple[str, str]] = (),
    max_message_bytes: int = 8 * 1024 * 1024,
) -> grpc.aio.Channel:
    """An insecure aio channel; `idempotent` lists (service, method) pairs safe to retry."""
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.enable_retries", 1 if idempotent else 0),
    ]
    if idempotent:
        options.append(("grpc.service_config", _retry_config(idempotent)))
    return grpc.aio.insecure_channel(
        address,
        options=options,
        interceptors=[_UnaryDefaults(deadline_seconds), _StreamDefaults()],
    )


def describe_rpc_error(error: grpc.aio.AioRpcError) -> str:
    """One line: the status code, the message and the detail that names the problem."""
    line = f"{error.code().name}: {error.details()}"
    status = rpc_status.from_call(error)
    if status is None:
        return line
    extra: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            extra += [f"{v.field}: {v.description}" for v in bad.field_violations]
    if extra:
        line += " [" + "; ".join(extra[:10]) + (" ..." if len(extra) > 10 else "") + "]"
    return line
