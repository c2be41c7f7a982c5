"""The mesh as the CLI sees it: a running one (ORCHESTRATOR_ADDR) or an embedded one
started in this process for the command's duration."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import socket
from collections.abc import AsyncIterator, Sequence

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console

from devmatrix.runtime.channels import open_channel
from devmatrix.runtime.config import SERVICE_NAMES, Settings
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import context_pb2_grpc, orchestrator_pb2_grpc, patterns_pb2_grpc

# Read-only RPCs that are safe to retry when a replica is briefly unavailable.
IDEMPOTENT: dict[str, tuple[tuple[str, str], ...]] = {
    "orchestrator": tuple(
        ("devmatrix.v1.OrchestratorService", m)
        for m in ("GetSpec", "ListSpecs", "GetTaskTree", "GetTask", "GetProgress", "AnalyzeDependencies")
    ),
    "context": tuple(("devmatrix.v1.ContextService", m) for m in ("GetContext", "CompareWithFullMarkdown")),
    "patterns": tuple(
        ("devmatrix.v1.PatternsService", m) for m in ("SearchPatterns", "GetPattern", "FindSimilarTasks")
    ),
    "skills": tuple(("devmatrix.v1.SkillsService", m) for m in ("ListSkills", "GetSkill", "MapTaskToSkills")),
}
# The services each one calls, so an in-process start brings up what a command needs.
CALLS: dict[str, tuple[str, ...]] = {
    "context": ("orchestrator", "patterns", "skills"),
    "codegen": ("orchestrator", "context", "patterns", "skills"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_mesh(
    settings: Settings, ephemeral: bool, services: Sequence[str] = SERVICE_NAMES
) -> list[RunningServer]:
    """Start `services` (default: all) in this process, in mesh order. Ephemeral picks free
    ports (told to every service, so they reach each other) and serves no /metrics."""
    if ephemeral:
        ports = {name: free_port() for name in SERVICE_NAMES}
        settings = dataclasses.replace(
            settings,
            ports=ports,
            addrs={name: f"127.0.0.1:{port}" for name, port in ports.items()},
            metrics_ports=dict.fromkeys(SERVICE_NAMES, 0),
        )
    servers: list[RunningServer] = []
    try:
        for name in (n for n in SERVICE_NAMES if n in services):
            factory = importlib.import_module(f"services.{name}.app").build
            servers.append(await start_server(factory, settings, name))
    except BaseException:
        for server in servers:
            await server.stop(0)
        raise
    return servers


@contextlib.asynccontextmanager
async def mesh_channels(
    settings: Settings, console: Console, wanted: Sequence[str]
) -> AsyncIterator[dict[str, grpc.aio.Channel]]:
    """Channels to `wanted`: the running mesh when every one has its <NAME>_ADDR, else
    those services and the ones they call, started in this process for the command.
    Only what the command talks to starts: the others load models it does not need."""
    servers: list[RunningServer] = []
    addrs = dict(settings.addrs)
    if not all(name in addrs for name in wanted):
        needed = {*wanted, *(callee for name in wanted for callee in CALLS.get(name, ()))}
        with console.status(
            f"Starting {', '.join(sorted(needed))} in process (data in {settings.data_dir})..."
        ):
            servers = await start_mesh(settings, ephemeral=True, services=tuple(needed))
        addrs = {server.app.name: server.address for server in servers}
    channels = {
        name: open_channel(
            addrs[name], settings.grpc_deadline_seconds, IDEMPOTENT.get(name, ()), settings.max_message_bytes
        )
        for name in wanted
    }
    try:
        yield channels
    finally:
        for channel in channels.values():
            await channel.close()
        for server in reversed(servers):
            await server.stop(0)


@contextlib.asynccontextmanager
async def orchestrator_client(
    settings: Settings, console: Console
) -> AsyncIterator[orchestrator_pb2_grpc.OrchestratorServiceStub]:
    async with mesh_channels(settings, console, ("orchestrator",)) as channels:
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channels["orchestrator"])


@contextlib.asynccontextmanager
async def patterns_client(
    settings: Settings, console: Console
) -> AsyncIterator[patterns_pb2_grpc.PatternsServiceStub]:
    async with mesh_channels(settings, console, ("patterns",)) as channels:
        yield patterns_pb2_grpc.PatternsServiceStub(channels["patterns"])


@dataclasses.dataclass
class ContextClients:
    orchestrator: orchestrator_pb2_grpc.OrchestratorServiceStub
    context: context_pb2_grpc.ContextServiceStub


@contextlib.asynccontextmanager
async def context_client(settings: Settings, console: Console) -> AsyncIterator[ContextClients]:
    async with mesh_channels(settings, console, ("orchestrator", "context")) as channels:
        yield ContextClients(
            orchestrator_pb2_grpc.OrchestratorServiceStub(channels["orchestrator"]),
            context_pb2_grpc.ContextServiceStub(channels["context"]),
        )


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
