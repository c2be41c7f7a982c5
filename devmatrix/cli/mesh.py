"""The mesh as the CLI sees it: a running one (ORCHESTRATOR_ADDR) or an embedded one
started in this process for the command's duration."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import SERVICE_NAMES, Settings
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import orchestrator_pb2_grpc

# Read-only RPCs that are safe to retry when a replica is briefly unavailable.
IDEMPOTENT = tuple(
    ("devmatrix.v1.OrchestratorService", m)
    for m in ("GetSpec", "ListSpecs", "GetTaskTree", "GetTask", "GetProgress", "AnalyzeDependencies")
)


async def start_mesh(settings: Settings, ephemeral: bool) -> list[RunningServer]:
    """Start every service in this process; ephemeral picks free ports and serves no /metrics."""
    servers: list[RunningServer] = []
    try:
        for name in SERVICE_NAMES:
            factory = importlib.import_module(f"services.{name}.app").build
            servers.append(
                await start_server(
                    factory,
                    settings,
                    name,
                    port=0 if ephemeral else None,
                    metrics_port=0 if ephemeral else None,
                )
            )
    except BaseException:
        for server in servers:
            await server.stop(0)
        raise
    return servers


@contextlib.asynccontextmanager
async def orchestrator_client(
    settings: Settings, console: Console
) -> AsyncIterator[orchestrator_pb2_grpc.OrchestratorServiceStub]:
    servers: list[RunningServer] = []
    address = settings.addrs.get("orchestrator")
    if address is None:
        with console.status(f"Starting the embedded mesh (data in {settings.data_dir})..."):
            servers = await start_mesh(settings, ephemeral=True)
        address = servers[0].address
    channel = open_channel(address, settings.grpc_deadline_seconds, IDEMPOTENT, settings.max_message_bytes)
    try:
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    finally:
        await channel.close()
        for server in servers:
            await server.stop(0)


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


def cycle_of(error: grpc.aio.AioRpcError) -> list[str] | None:
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            for violation in failure.violations:
                if violation.type == "DEPENDENCY_CYCLE":
                    return violation.subject.split(" -> ")
    return None
