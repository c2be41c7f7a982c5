"""Checks of the arguments every orchestrator RPC shares: ids, idempotency keys, the caller."""

from __future__ import annotations

import uuid

import grpc

from devmatrix.runtime.errors import FieldViolation, InvalidArgument

USER_KEY = "x-devmatrix-user"
MAX_REQUEST_ID = 128


def require_uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        what = "is required" if not value else f"{value!r} is not a UUID"
        raise InvalidArgument(f"{field} {what}", [FieldViolation(field, "a UUID")]) from None


def request_id(value: str) -> str | None:
    if len(value) > MAX_REQUEST_ID:
        raise InvalidArgument(
            f"request_id is longer than {MAX_REQUEST_ID} characters",
            [FieldViolation("request_id", f"at most {MAX_REQUEST_ID} characters")],
        )
    return value or None


def caller(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == USER_KEY and value:
            return str(value)[:100]
    return "anonymous"
