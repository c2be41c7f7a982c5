"""ASGI middleware: the request id, RED metrics and one log line per request (outermost),
and the request body limit (innermost). Plain ASGI, so the request id set here is the
context the routes, their gRPC calls and the event streams run in."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence

import structlog
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devmatrix.runtime.channels import current_request_id
from gateway.errors import problem, problem_response
from gateway.metrics import HttpMetrics

REQUEST_ID_HEADER = "x-request-id"
# A caller's request id is kept when it is a plain token; anything else gets a new one.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
UNMATCHED = "<unmatched>"
# A refused body is read to its end (and dropped) while it is under this many times the limit.
DRAIN_FACTOR = 4
log = structlog.get_logger("devmatrix.gateway")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def route_of(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route template a request matches (its metrics label), without path values."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        path = str(getattr(route, "path", None) or UNMATCHED)
        if match is Match.FULL:
            return path
        partial = partial or path
    return partial or UNMATCHED


class RequestContext:
    """X-Request-Id (kept or made, echoed, sent to the services), metrics, access log, and
    a problem body for anything a route did not handle."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        method, route = scope["method"], route_of(self.routes(), scope)
        status = 500
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = [
                    h for h in message.get("headers", []) if h[0].lower() != REQUEST_ID_HEADER.encode()
                ]
                message = {
                    **message,
                    "headers": [*headers, (REQUEST_ID_HEADER.encode(), request_id.encode())],
                }
            await send(message)

        token = current_request_id.set(request_id)
        self.metrics.in_flight.labels(method).inc()
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                try:
                    await self.app(scope, receive, send_with_id)
                except ClientDisconnect:  # the client went away (an event stream closed): not an error
                    status = status if response_started else 499
                except Exception as error:
                    log.error("http_crashed", method=method, route=route, exc_info=error)
                    if response_started:
                        raise
                    body = problem(500, "INTERNAL", f"internal error (request id {request_id})", request_id)
                    await problem_response(body)(scope, receive, send_with_id)
                finally:
                    elapsed = time.perf_counter() - started
                    self.metrics.observe(method, route, status, elapsed)
                    log.info(
                        "http_request",
                        method=method,
                        route=route,
                        path=scope.get("path", ""),
                        status=status,
                        ms=round(elapsed * 1000, 2),
                    )
        finally:
            self.metrics.in_flight.labels(method).dec()
            current_request_id.reset(token)


class BodyLimit:
    """413 with a problem body for a request body over `limit` bytes: before the route runs
    when its Content-Length says so, or as soon as the bytes read pass the limit (chunked
    bodies; the route then sees a disconnect and whatever it answers is dropped)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(scope.get("state", {}).get("request_id", ""))
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            if int(length) <= DRAIN_FACTOR * self.limit:
                await self._drain(receive, 0)
            await self._refuse(scope, receive, send, request_id)
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    if message.get("more_body", False):
                        await self._drain(receive, received)
                    await self._refuse(scope, receive, send, request_id)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _drain(self, receive: Receive, received: int) -> None:
        """Read and drop the rest of a refused body (while under DRAIN_FACTOR times the limit)
        before answering, so a client still sending reads the 413 instead of a reset."""
        while received <= DRAIN_FACTOR * self.limit:
            message = await receive()
            if message["type"] != "http.request":
                return
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        body = problem(
            413,
            "PAYLOAD_TOO_LARGE",
            f"the request body is larger than {self.limit} bytes (GATEWAY_MAX_BODY_BYTES)",
            request_id,
        )
        await problem_response(body, {"connection": "close"})(scope, receive, send)
