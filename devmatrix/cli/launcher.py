"""`devmatrix up`: every service in its own process, watched until a signal or a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console
from rich.table import Table

from devmatrix.runtime.config import SERVICE_NAMES, Settings

STARTUP_TIMEOUT_SECONDS = 120.0
# The repository root on the gateway's path: a venv set up before the gateway package existed finds it too.
ROOT = Path(__file__).resolve().parents[2]


def serving(address: str, service: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=1.0
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def gateway_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.bind_host in ("0.0.0.0", "::", "") else settings.bind_host
    return f"http://{host}:{settings.gateway_port}"


def gateway_live(settings: Settings) -> bool:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with direct.open(f"{gateway_url(settings)}/health/live", timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_gateway(env: dict[str, str]) -> subprocess.Popen[bytes]:
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "gateway"], env=dict(env, PYTHONPATH=path), stdin=subprocess.DEVNULL
    )


def run_up(settings: Settings, console: Console) -> int:
    env = dict(os.environ, DEVMATRIX_DATA_DIR=str(settings.data_dir))
    # Services reach each other on the loopback ports unless told otherwise.
    for name in SERVICE_NAMES:
        env.setdefault(f"{name.upper()}_ADDR", settings.addr(name))
    processes = {
        name: subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=env, stdin=subprocess.DEVNULL)
        for name in SERVICE_NAMES
    }
    # The HTTP gateway (GATEWAY_PORT, 0 leaves it out) talks to the services over gRPC.
    if settings.gateway_port:
        processes["gateway"] = start_gateway(env)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        pending = set(processes)
        with console.status("Starting the mesh..."):
            while pending and not stopping:
                for name in list(pending):
                    if processes[name].poll() is not None:
                        console.print(f"[red]error:[/] {name} exited with code {processes[name].returncode}")
                        return 1
                    if (
                        gateway_live(settings)
                        if name == "gateway"
                        else serving(settings.addr(name), f"devmatrix.v1.{name.capitalize()}Service")
                    ):
                        pending.discard(name)
                if time.monotonic() > deadline:
                    console.print(
                        f"[red]error:[/] not serving after {STARTUP_TIMEOUT_SECONDS:.0f}s: {', '.join(sorted(pending))}"
                    )
                    return 1
                time.sleep(0.2)
        if stopping:
            return 0
        table = Table(title=f"DevMatrix mesh (data in {settings.data_dir})")
        for column in ("service", "gRPC", "metrics", "pid"):
            table.add_column(column)
        for name in SERVICE_NAMES:
            port = settings.metrics_ports[name]
            table.add_row(
                name, settings.addr(name), f"http://127.0.0.1:{port}/metrics", str(processes[name].pid)
            )
        console.print(table)
        if "gateway" in processes:
            url = gateway_url(settings)
            console.print(
                f"Gateway: {url}/api (pid {processes['gateway'].pid}; docs /docs, metrics /metrics)"
            )
            console.print(f"Dashboard: {url}/")
        console.print("Ready. Ctrl-C stops the mesh.")
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    console.print(
                        f"[red]error:[/] {name} exited with code {process.returncode}; stopping the mesh"
                    )
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=settings.shutdown_grace_seconds + 5)
            except subprocess.TimeoutExpired:
                process.kill()
