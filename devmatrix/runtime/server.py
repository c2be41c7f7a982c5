"""grpc.aio server bootstrap shared by every service.

A service provides a `ServiceApp` (what to register, how to tell its backends are
ready, how to close them); this module adds the interceptor stack, health checking
driven by that readiness, reflection, the /metrics port and graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from devmatrix.runtime.config import ConfigError, Settings
from devmatrix.runtime.interceptors import ServiceInterceptor
from devmatrix.runtime.logging import configure_logging, get_logger
from devmatrix.runtime.metrics import ServerMetrics, serve_metrics

# Longest a shutdown step may take beyond the drain grace before it is given up.
STEP_TIMEOUT_SECONDS = 30.0
log = get_logger("devmatrix.server")


class _ReflectionPool:
    """The default descriptor pool for reflection, also resolving method names.

    upb's pool cannot find the file of `pkg.Service.Method`, so `grpcurl describe` of a
    method failed with "Symbol not found"; the method's service's file is the answer.
    """

    def __init__(self) -> None:
        self._pool = descriptor_pool.Default()

    def __getattr__(self, name: str) -> object:
        return getattr(self._pool, name)

    def FindFileContainingSymbol(self, symbol: str) -> object:
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            service_name, _, method = symbol.rpartition(".")
            service = self._pool.FindServiceByName(service_name) if service_name else None
            if service is None or method not in service.methods_by_name:
                raise
            return service.file


async def _always_ready() -> bool:
    return True


async def _nothing() -> None:
    return None


@dataclass
class ServiceApp:
    """What a service contributes to its server."""

    name: str
    # Fully-qualified gRPC service name, e.g. devmatrix.v1.OrchestratorService.
    full_name: str
    register: Callable[[grpc.aio.Server], None]
    ready: Callable[[], Awaitable[bool]] = _always_ready
    close: Callable[[], Awaitable[None]] = _nothing
    # Called before the server stops accepting calls, e.g. to end open streams.
    drain: Callable[[], Awaitable[None]] = _nothing
    # The service's own backends, reachable by tests and benchmarks that time them directly.
    state: object | None = None
    # Further gRPC services `register` adds to the same server (same backends, same readiness),
    # listed by reflection and health checking like `full_name`.
    also_serves: tuple[str, ...] = ()


AppFactory = Callable[[Settings, CollectorRegistry], Awaitable[ServiceApp]]


@dataclass
class RunningServer:
    app: ServiceApp
    server: grpc.aio.Server
    port: int
    metrics_port: int
    health: health.aio.HealthServicer
    _metrics_http: object | None = None
    _health_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _set_health(self, ready: bool, alive: bool = True) -> None:
        """ "" answers liveness (the process serves); the service's own name answers readiness
        (its backends answer), so a database outage takes pods out of rotation without restarts."""
        serving, not_serving = (
            health_pb2.HealthCheckResponse.SERVING,
            health_pb2.HealthCheckResponse.NOT_SERVING,
        )
        await self.health.set("", serving if alive else not_serving)
        for service in (self.app.full_name, *self.app.also_serves):
            await self.health.set(service, serving if ready else not_serving)

    async def watch_readiness(self, interval: float) -> None:
        last: bool | None = None
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation
            # that stop() sends when the check finishes at that moment, and stop() then waits
            # for this loop forever.
            try:
                async with asyncio.timeout(max(interval, 1.0)):
                    ready = await self.app.ready()
            except Exception:
                ready = False
            if ready != last:
                log.info("health", service=self.app.name, serving=ready)
                await self._set_health(ready)
                last = ready
            await asyncio.sleep(interval)

    async def _bounded(self, step: str, work: Awaitable[object], seconds: float) -> None:
        """A shutdown step that hangs (a backend that never answers) is logged and left, so
        the process still exits: the orchestrator's executions resume from the database."""
        try:
            async with asyncio.timeout(seconds):
                await work
        except TimeoutError:
            log.error("stop_step_timed_out", service=self.app.name, step=step, seconds=seconds)

    async def stop(self, grace: float) -> None:
        """Stop accepting, drain in-flight calls, then close the service's backends."""
        log.info("stopping", service=self.app.name, grace_seconds=grace)
        if self._health_task:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        await self._set_health(False, alive=False)
        await self._bounded("drain", self.app.drain(), grace + STEP_TIMEOUT_SECONDS)
        await self._bounded("grpc_stop", self.server.stop(grace), grace + STEP_TIMEOUT_SECONDS)
        await self._bounded("close_backends", self.app.close(), STEP_TIMEOUT_SECONDS)
        if self._metrics_http is not None:
            self._metrics_http.shutdown()  # type: ignore[attr-defined]
        log.info("stopped", service=self.app.name)


async def start_server(
    factory: AppFactory,
    settings: Settings,
    name: str,
    port: int | None = None,
    metrics_port: int | None = None,
) -> RunningServer:
    """Build the service and start serving. Port 0 picks a free port; metrics port 0 disables /metrics."""
    registry = CollectorRegistry()
    app = await factory(settings, registry)
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor(ServerMetrics(registry))],
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
        ],
    )
    app.register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            app.full_name,
            *app.also_serves,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
        pool=_ReflectionPool(),
    )
    wanted = settings.ports[name] if port is None else port
    bound = server.add_insecure_port(f"{settings.bind_host}:{wanted}")
    if bound == 0:
        await app.close()
        raise OSError(f"{name}: cannot bind gRPC port {settings.bind_host}:{wanted} (in use?)")
    await server.start()
    running = RunningServer(app=app, server=server, port=bound, metrics_port=0, health=health_servicer)
    wanted_metrics = settings.metrics_ports[name] if metrics_port is None else metrics_port
    if wanted_metrics:
        running._metrics_http, running.metrics_port = serve_metrics(
            registry, settings.bind_host, wanted_metrics
        )
    await running._set_health(await app.ready())
    running._health_task = asyncio.create_task(running.watch_readiness(settings.health_poll_seconds))
    log.info("serving", service=name, port=bound, metrics_port=running.metrics_port)
    return running


async def serve_until_signalled(servers: list[RunningServer], grace: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await asyncio.gather(*(s.stop(grace) for s in servers))


def run_service(name: str, factory: AppFactory) -> None:
    """Process entry point of one service: config, logging, serve until SIGTERM."""
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level, service=name)

    async def main() -> None:
        running = await start_server(factory, settings, name)
        await serve_until_signalled([running], settings.shutdown_grace_seconds)

    try:
        asyncio.run(main())
    except OSError as error:
        print(f"{name}: {error}", file=sys.stderr)
        raise SystemExit(1) from None
