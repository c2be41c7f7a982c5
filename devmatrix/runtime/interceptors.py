"""The one server interceptor: request ids, structured logs, error mapping, RED metrics."""

from __future__ import annotations

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

    def _wrap_unary(self, behavior: Callable[..., Awaitable[Any]], service: str, method: str) -> Callable:
        labels = ("unary", service, method)

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            call = _ObservedCall(self._metrics, labels, context)
            with structlog.contextvars.bound_contextvars(
                request_id=call.request_id, rpc=f"{service}/{method}"
            ):
                try:
                    await call.open()
                    response = await behavior(request, context)
                    call.sent()
                    return response
                except BaseException as error:
                    await call.fail(error)
                    raise
                finally:
                    call.close()

        return wrapper

    def _wrap_stream(
        self, behavior: Callable[..., AsyncIterator[Any]], service: str, method: str
    ) -> Callable:
        labels = ("server_stream", service, method)

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            call = _ObservedCall(self._metrics, labels, context)
            with structlog.contextvars.bound_contextvars(
                request_id=call.request_id, rpc=f"{service}/{method}"
            ):
                try:
                    await call.open()
                    async for response in behavior(request, context):
                        call.sent()
                        yield response
                except BaseException as error:
                    await call.fail(error)
                    raise
                finally:
                    call.close()

        return wrapper


class _ObservedCall:
    """What every call gets, unary or streaming: a request id, RED metrics, a log line,
    and errors turned into statuses."""

    def __init__(
        self, metrics: ServerMetrics, labels: tuple[str, str, str], context: grpc.aio.ServicerContext
    ):
        self.metrics, self.labels, self.context = metrics, labels, context
        self.request_id = _request_id(context)
        self.code = grpc.StatusCode.OK
        self.started = time.perf_counter()
        metrics.started.labels(*labels).inc()
        metrics.msg_received.labels(*labels).inc()

    async def open(self) -> None:
        await self.context.send_initial_metadata(((REQUEST_ID_KEY, self.request_id),))

    def sent(self) -> None:
        self.metrics.msg_sent.labels(*self.labels).inc()

    async def fail(self, error: BaseException) -> None:
        """Record the outcome; a domain or unexpected error aborts the call with its status."""
        if isinstance(error, grpc.aio.AbortError):
            self.code = self.context.code() or grpc.StatusCode.UNKNOWN
            return
        if not isinstance(error, Exception):  # cancelled, or the client went away mid-stream
            self.code = grpc.StatusCode.CANCELLED
            return
        mapped = _mapped(error)
        if isinstance(mapped, DomainError):
            self.code = mapped.code
            log.info("rpc_failed", grpc_code=mapped.code.name, error=mapped.message)
            await self.context.abort_with_status(to_rpc_status(mapped, self.request_id))
        self.code = grpc.StatusCode.INTERNAL
        log.error("rpc_crashed", exc_info=error)
        await self.context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {self.request_id})")

    def close(self) -> None:
        elapsed = time.perf_counter() - self.started
        self.metrics.handled.labels(*self.labels, self.code.name).inc()
        self.metrics.handling_seconds.labels(*self.labels).observe(elapsed)
        if not self.labels[1].startswith("grpc."):
            log.debug("rpc", grpc_code=self.code.name, ms=round(elapsed * 1000, 2))
