"""A `devmatrix up` mesh run as a user runs it, on free ports with a temporary data dir,
for the e2e modules that need a running mesh (the `mesh` fixture in conftest.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devmatrix.runtime.config import SERVICE_NAMES
from tests.e2e.cli_support import ROOT, SHUTDOWN_TIMEOUT_S, STARTUP_TIMEOUT_S, clean_env, free_ports


@dataclasses.dataclass
class Mesh:
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    metrics_ports: dict[str, int]
    data_dir: Path
    stderr_path: Path

    def addr(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def client_env(self, data_dir: Path, **overrides: str) -> dict[str, str]:
        return clean_env(data_dir, ORCHESTRATOR_ADDR=self.addr("orchestrator"), **overrides)


def child_processes(pid: int) -> dict[int, str]:
    """pid -> command line of the live (non-zombie) children of pid, from /proc."""
    children: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            children[int(entry.name)] = cmdline
    return children


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def running_mesh(base: Path) -> Iterator[Mesh]:
    """`devmatrix up` with its data in `base`, Ready on return; stopped (and any child left
    behind killed) on exit. No LLM is configured: generation is offline or refused."""
    data_dir = base / "data"
    numbers = free_ports(2 * len(SERVICE_NAMES) + 1)
    ports = dict(zip(SERVICE_NAMES, numbers[: len(SERVICE_NAMES)], strict=True))
    metrics_ports = dict(zip(SERVICE_NAMES, numbers[len(SERVICE_NAMES) : -1], strict=True))
    overrides = {f"{name.upper()}_PORT": str(port) for name, port in ports.items()}
    overrides |= {f"{name.upper()}_METRICS_PORT": str(port) for name, port in metrics_ports.items()}
    # The gateway on a free port too: 8080 may be taken by a mesh someone else runs.
    overrides |= {"ANTHROPIC_API_KEY": "", "ANTHROPIC_BASE_URL": "", "GATEWAY_PORT": str(numbers[-1])}
    env = clean_env(data_dir, BIND_HOST="127.0.0.1", SHUTDOWN_GRACE_SECONDS="5", **overrides)
    stderr_path = base / "up.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "devmatrix.cli.main", "up"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    running = Mesh(process, ports, metrics_ports, data_dir, stderr_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while "Ready." not in stderr_path.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(
                    f"devmatrix up exited with {process.returncode}:\n{stderr_path.read_text()[-6000:]}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(f"devmatrix up not Ready in {STARTUP_TIMEOUT_S:.0f}s", pytrace=False)
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            leftovers = list(child_processes(process.pid))
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for pid in leftovers:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
