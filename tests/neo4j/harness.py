"""The official neo4j-harness, started through this folder's Java launcher, for the tests
and the benchmarks. It never skips: failing to start raises HarnessError with the
launcher's output."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

LAUNCHER_DIR = Path(__file__).resolve().parent
SETUP_SCRIPT = LAUNCHER_DIR.parents[1] / "scripts" / "setup_neo4j.sh"
START_TIMEOUT_S = 120.0
# The first build downloads the harness (~150 MB) from Maven Central.
BUILD_TIMEOUT_S = 1200.0
STOP_TIMEOUT_S = 30.0
URI_PREFIX = "BOLT_URI="


class HarnessError(RuntimeError):
    pass


def build_launcher() -> None:
    try:
        done = subprocess.run(
            ["bash", str(SETUP_SCRIPT)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{SETUP_SCRIPT} did not finish within {BUILD_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise HarnessError(
            f"{SETUP_SCRIPT} failed (exit {done.returncode}); Neo4j needs JDK 17 and Maven.\n"
            f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
        )


def _stop(process: subprocess.Popen[str]) -> None:
    # Closing stdin is the launcher's polite shutdown signal; SIGTERM and SIGKILL are fallbacks.
    if process.stdin is not None and not process.stdin.closed:
        with contextlib.suppress(OSError):
            process.stdin.close()
    for escalate in (None, process.terminate, process.kill):
        if escalate is not None:
            escalate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def neo4j_harness() -> Iterator[str]:
    """Build the launcher if needed, start Neo4j on a free port and yield its bolt URI."""
    build_launcher()
    classpath = os.pathsep.join(
        [str(LAUNCHER_DIR / "target" / "classes"), str(LAUNCHER_DIR / "target" / "lib" / "*")]
    )
    with tempfile.TemporaryFile(mode="w+", prefix="neo4j-launcher-", suffix=".err") as stderr:
        process = subprocess.Popen(
            ["java", "-Xms256m", "-Xmx1g", "-cp", classpath, "devmatrix.Neo4jLauncher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=LAUNCHER_DIR,
        )
        found: list[str] = []
        ready = threading.Event()

        def drain_stdout() -> None:
            # Keep reading after the URI line so chatty logging can never fill the pipe and
            # stall the JVM; EOF (the process died) also wakes the waiter.
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(URI_PREFIX) and not found:
                    found.append(line[len(URI_PREFIX) :].strip())
                    ready.set()
            ready.set()

        threading.Thread(target=drain_stdout, name="neo4j-launcher-stdout", daemon=True).start()
        ready.wait(START_TIMEOUT_S)
        if not found:
            exit_code = process.poll()
            _stop(process)
            stderr.seek(0)
            state = (
                f"exited with {exit_code}"
                if exit_code is not None
                else f"no BOLT_URI in {START_TIMEOUT_S:.0f} s"
            )
            raise HarnessError(f"Neo4j launcher failed to start ({state}).\nstderr:\n{stderr.read()[-6000:]}")
        try:
            yield found[0]
        finally:
            _stop(process)
