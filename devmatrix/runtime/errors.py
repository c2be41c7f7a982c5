"""Domain errors that the interceptor turns into gRPC statuses with google.rpc details.

Logic modules raise these; only the runtime knows how they look on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc


@dataclass
class FieldViolation:
    field: str
    description: str


@dataclass
class DomainError(Exception):
    message: str
    code: grpc.StatusCode = field(default=grpc.StatusCode.INTERNAL, init=False)

    def __str__(self) -> str:
        return self.message


@dataclass
class InvalidArgument(DomainError):
    violations: list[FieldViolation] = field(default_factory=list)
    code: grpc.StatusCode = field(default=grpc.StatusCode.INVALID_ARGUMENT, init=False)


@dataclass
class NotFound(DomainError):
    resource_type: str = ""
    resource_name: str = ""
    code: grpc.StatusCode = field(default=grpc.StatusCode.NOT_FOUND, init=False)


@dataclass
class PreconditionViolation:
    type: str
    subject: str
    description: str


@dataclass
class FailedPrecondition(DomainError):
    violations: list[PreconditionViolation] = field(default_factory=list)
    code: grpc.StatusCode = field(default=grpc.StatusCode.FAILED_PRECONDITION, init=False)


@dataclass
class DependencyCycle(FailedPrecondition):
    """A dependency cycle; `cycle` lists the task keys in order, first repeated last."""

    cycle: list[str] = field(default_factory=list)


@dataclass
class AlreadyExists(DomainError):
    code: grpc.StatusCode = field(default=grpc.StatusCode.ALREADY_EXISTS, init=False)


@dataclass
class Unavailable(DomainError):
    code: grpc.StatusCode = field(default=grpc.StatusCode.UNAVAILABLE, init=False)


@dataclass
class Unimplemented(DomainError):
    code: grpc.StatusCode = field(default=grpc.StatusCode.UNIMPLEMENTED, init=False)


@dataclass
class ResourceExhausted(DomainError):
    code: grpc.StatusCode = field(default=grpc.StatusCode.RESOURCE_EXHAUSTED, init=False)


@dataclass
class Aborted(DomainError):
    """A concurrent change won (optimistic concurrency): re-read and retry."""

    code: grpc.StatusCode = field(default=grpc.StatusCode.ABORTED, init=False)


def backend_error(error: BaseException) -> DomainError | None:
    """A backend driver's connection failure as UNAVAILABLE, so callers can retry or degrade."""
    import psycopg
    import psycopg_pool

    if isinstance(error, psycopg_pool.PoolTimeout | psycopg.OperationalError):
        return Unavailable(
            f"database unavailable: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
        )
    return None
