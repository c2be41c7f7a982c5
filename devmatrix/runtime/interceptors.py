"""The one server interceptor: request ids, structured logs, error mapping, RED metrics."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from devmatrix.runtime.errors import (
    DependencyCycle,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PreconditionViolation,
    Unimplemented,
    backend_error,
)
from devmatrix.runtime.metrics import ServerMetrics

REQUEST_ID_KEY = "x-request-id"
log = structlog.get_logger("devmatrix.rpc")


def to_rpc_status(error: DomainError, request_id: str) -> grpc.Status:
    """A domain error as a google.rpc.Status with the details that help the caller."""
    details: list[any_pb2.Any] = []

    def pack(message: Any) -> None:
        packed = any_pb2.Any()
        packed.Pack(message)
        details.append(packed)

    if isinstance(error, InvalidArgument) and error.violations:
        pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
    if isinstance(error, FailedPrecondition):
        violations = list(error.violations)
        if isinstance(error, DependencyCycle) and error.cycle:
            violations.append(
                PreconditionViolation("DEPENDENCY_CYCLE", " -> ".join(error.cycle), "dependency cycle")
            )
        if violations:
            pack(
                error_details_pb2.PreconditionFailure(
                    violations=[
                        error_details_pb2.PreconditionFailure.Violation(
                            type=v.type, subject=v.subject, description=v.description
                        )
                        for v in violations
                    ]
                )
            )
    if isinstance(error, NotFound) and error.resource_type:
        pack(
            error_details_pb2.ResourceInfo(
                resource_type=error.resource_type,
                resource_name=error.resource_name,
                description=error.message,
            )
        )
    pack(error_details_pb2.RequestInfo(request_id=request_id))
    return rpc_status.to_status(
        status_pb2.Status(code=error.code.value[0], message=error.message, details=details)
    )


def _mapped(error: BaseException) -> BaseException:
    """A backend's connection failure as UNAVAILABLE, a generated servicer's unimplemented
    method (it raises NotImplementedError) as UNIMPLEMENTED; anything else unchanged."""
    if isinstance(error, NotImplementedError):
        return Unimplemented(str(error) or "method not implemented")
    return backend_error(error) or error


def _request_id(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and value:
            return str(value)[:128]
    return uuid.uuid4().hex


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        service, _, method = handler_call_details.method.lstrip("/").partition("/")
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # Client-streaming and bidi RPCs (reflection) pass through unmeasured.
        return handler

    async def _on_error(
        self, error: BaseException, context: grpc.aio.ServicerContext, request_id: str
    ) -> None:
        error = _mapped(error)
        if isinstance(error, DomainError):
            log.info("rpc_failed", grpc_code=error.code.name, error=error.message)
            await context.abort_with_status(to_rpc_status(error, request_id))
        log.error("rpc_crashed", exc_info=error)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")
        raise AssertionError("unreachable")  # abort always raises

    def _wrap_unary(self, behavior: Callable[..., Awaitable[Any]], service: str, method: str) -> Callable:
        labels = ("unary", service, method)
        metrics = self._metrics

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request_id = _request_id(context)
            metrics.started.labels(*labels).inc()
            metrics.msg_received.labels(*labels).inc()
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            with structlog.contextvars.bound_contextvars(request_id=request_id, rpc=f"{service}/{method}"):
                try:
                    await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
                    response = await behavior(request, context)
                    metrics.msg_sent.labels(*labels).inc()
                    return response
                except grpc.aio.AbortError:
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except asyncio.CancelledError:
                    code = grpc.StatusCode.CANCELLED
                    raise
                except Exception as error:
                    mapped = _mapped(error)
                    code = mapped.code if isinstance(mapped, DomainError) else grpc.StatusCode.INTERNAL
                    await self._on_error(error, context, request_id)
                finally:
                    elapsed = time.perf_counter() - started
                    metrics.handled.labels(*labels, code.name).inc()
                    metrics.handling_seconds.labels(*labels).observe(elapsed)
                    if not service.startswith("grpc."):
                        log.debug("rpc", grpc_code=code.name, ms=round(elapsed * 1000, 2))

        return wrapper

    def _wrap_stream(
        self, behavior: Callable[..., AsyncIterator[Any]], service: str, method: str
    ) -> Callable:
        labels = ("server_stream", service, method)
        metrics = self._metrics

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            request_id = _request_id(context)
            metrics.started.labels(*labels).inc()
            metrics.msg_received.labels(*labels).inc()
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            with structlog.contextvars.bound_contextvars(request_id=request_id, rpc=f"{service}/{method}"):
                try:
                    await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
                    async for response in behavior(request, context):
                        metrics.msg_sent.labels(*labels).inc()
                        yield response
                except grpc.aio.AbortError:
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except asyncio.CancelledError:
                    code = grpc.StatusCode.CANCELLED
                    raise
                except GeneratorExit:
                    code = grpc.StatusCode.CANCELLED
                    raise
                except Exception as error:
                    mapped = _mapped(error)
                    code = mapped.code if isinstance(mapped, DomainError) else grpc.StatusCode.INTERNAL
                    await self._on_error(error, context, request_id)
                finally:
                    metrics.handled.labels(*labels, code.name).inc()
                    metrics.handling_seconds.labels(*labels).observe(time.perf_counter() - started)

        return wrapper
