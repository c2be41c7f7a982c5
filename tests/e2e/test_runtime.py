"""The shared runtime end to end: real servers, the real grpcurl binary, real HTTP /metrics,
real processes and signals."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import psycopg
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from devmatrix.runtime.config import Settings
from devmatrix.runtime.server import RunningServer, start_server
from devmatrix.v1 import orchestrator_pb2 as pb
from devmatrix.v1 import orchestrator_pb2_grpc
from services.orchestrator.app import build as build_orchestrator
from tests.fixtures.mesh import settings_for
from tests.fixtures.postgres import database_url_for
from tests.integration.rpc import details

ROOT = Path(__file__).resolve().parents[2]
SMALL_PLAN = (ROOT / "examples" / "plans" / "small_plan.json").read_text()
ORCHESTRATOR = "devmatrix.v1.OrchestratorService"
HEALTH = "grpc.health.v1.Health"
SKILLS = "devmatrix.v1.SkillsService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def grpcurl() -> str:
    """The grpcurl binary: on PATH, in .tools/bin (scripts/setup.sh --dev) or in GOBIN/GOPATH."""
    candidates = [shutil.which("grpcurl"), str(ROOT / ".tools" / "bin" / "grpcurl")]
    if os.environ.get("GOBIN"):
        candidates.append(str(Path(os.environ["GOBIN"]) / "grpcurl"))
    candidates.append(str(Path(os.environ.get("GOPATH", Path.home() / "go")) / "bin" / "grpcurl"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "grpcurl not found on PATH nor in .tools/bin: run scripts/setup.sh --dev to install it",
        pytrace=False,
    )


async def run_grpcurl(*args: str) -> tuple[int, str]:
    """grpcurl as a subprocess without blocking the event loop that serves the call."""
    process = await asyncio.create_subprocess_exec(
        grpcurl(),
        "-plaintext",
        "-max-time",
        "20",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, output.decode()


async def health_status(address: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return reply.status


@dataclasses.dataclass
class Served:
    server: RunningServer
    channel: grpc.aio.Channel
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub
    database_url: str

    @property
    def address(self) -> str:
        return self.server.address


@pytest_asyncio.fixture(loop_scope="session")
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """The orchestrator on an ephemeral gRPC port with /metrics on a free port."""
    settings = settings_for(database_url, tmp_path)
    server = await start_server(
        build_orchestrator, settings, "orchestrator", port=0, metrics_port=free_port()
    )
    # A plain channel: no client interceptor adds or rewrites metadata behind the test's back.
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield Served(server, channel, orchestrator_pb2_grpc.OrchestratorServiceStub(channel), database_url)
    finally:
        await channel.close()
        await server.stop(0)


@pytest_asyncio.fixture(loop_scope="session")
async def skills_server(database_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(data_dir=tmp_path, bind_host="127.0.0.1", database_url=database_url)
    build = importlib.import_module("services.skills.app").build
    server = await start_server(build, settings, "skills", port=0, metrics_port=0)
    try:
        yield server
    finally:
        await server.stop(0)


# --- reflection through the real grpcurl ----------------------------------------------------


async def test_grpcurl_lists_describes_and_calls_the_orchestrator(served: Served) -> None:
    code, output = await run_grpcurl(served.address, "list")
    assert code == 0, output
    services = output.split()
    assert ORCHESTRATOR in services
    assert HEALTH in services

    code, output = await run_grpcurl(served.address, "describe", f"{ORCHESTRATOR}.CreateSpec")
    assert code == 0, output
    assert f"{ORCHESTRATOR}.CreateSpec is a method" in output
    assert (
        "rpc CreateSpec ( .devmatrix.v1.CreateSpecRequest ) returns ( .devmatrix.v1.CreateSpecResponse )"
        in output
    )

    code, output = await run_grpcurl(
        "-d", '{"spec_id": "not-a-uuid"}', served.address, f"{ORCHESTRATOR}/GetSpec"
    )
    assert code != 0
    assert "Code: InvalidArgument" in output
    assert "not-a-uuid" in output

    # A real call through reflection-resolved types succeeds too.
    code, output = await run_grpcurl(
        "-d", json.dumps({"plan_json": SMALL_PLAN}), served.address, f"{ORCHESTRATOR}/CreateSpec"
    )
    assert code == 0, output
    assert json.loads(output)["spec"]["title"] == "Notes API"


async def test_grpcurl_validates_code_through_the_skills_service(skills_server: RunningServer) -> None:
    address = skills_server.address
    code, output = await run_grpcurl(address, "list", SKILLS)
    assert code == 0, output
    assert f"{SKILLS}.Validate" in output.split()

    source = "def load(path):\n    try:\n        return open(path).read()\n    except:\n        pass\n"
    body = {"files": [{"path": "app/io.py", "content": source}], "skills": ["global-error-handling"]}
    code, output = await run_grpcurl("-d", json.dumps(body), address, f"{SKILLS}/Validate")
    assert code == 0, output
    (result,) = json.loads(output)["results"]
    assert result["skill"] == "global-error-handling"
    assert any(f["path"] == "app/io.py" and f["line"] == 4 for f in result["findings"])

    code, output = await run_grpcurl("-d", '{"name": "backend-sql"}', address, f"{SKILLS}/GetSkill")
    assert code != 0
    assert "Code: NotFound" in output
    assert await health_status(address, SKILLS) == SERVING


# --- health follows the database ------------------------------------------------------------


async def wait_for_health(address: str, service: str, wanted: int, within: float) -> float:
    started = time.monotonic()
    while True:
        status = await health_status(address, service)
        if status == wanted:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(
                f"health of {service!r} is {health_pb2.HealthCheckResponse.ServingStatus.Name(status)} "
                f"after {within}s, wanted {health_pb2.HealthCheckResponse.ServingStatus.Name(wanted)}"
            )
        await asyncio.sleep(0.1)


async def test_health_turns_not_serving_when_the_database_disappears(served: Served, pg_server: str) -> None:
    for service in ("", ORCHESTRATOR):
        assert await health_status(served.address, service) == SERVING
    created = await served.stub.CreateSpec(pb.CreateSpecRequest(plan_json=SMALL_PLAN))
    spec_id = created.spec.id

    name = served.database_url.split("?", 1)[0].rsplit("/", 1)[1]
    assert database_url_for(pg_server, name) == served.database_url
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    try:
        # The service's name answers readiness; "" answers liveness: the process still serves.
        await wait_for_health(served.address, ORCHESTRATOR, NOT_SERVING, within=5.0)
        assert await health_status(served.address, "") == SERVING

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await served.stub.GetSpec(pb.GetSpecRequest(spec_id=spec_id), timeout=30)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value
        assert "database" in raised.value.details()
        assert "Traceback" not in raised.value.details()

        # The server itself keeps answering: validation, reflection and health still work.
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await served.stub.GetSpec(pb.GetSpecRequest(spec_id="nope"), timeout=5)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        code, output = await run_grpcurl(served.address, "list")
        assert code == 0 and ORCHESTRATOR in output.split(), output
        assert await health_status(served.address, ORCHESTRATOR) == NOT_SERVING
        assert await health_status(served.address, "") == SERVING
    finally:
        # Put an (empty) database back so the database_url fixture can drop it as usual.
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


# --- Prometheus /metrics ----------------------------------------------------------------------


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def rpc_labels(method: str, **extra: str) -> frozenset[tuple[str, str]]:
    return frozenset(
        {"grpc_type": "unary", "grpc_service": ORCHESTRATOR, "grpc_method": method, **extra}.items()
    )


async def test_metrics_count_calls_by_method_and_code(served: Served) -> None:
    assert served.server.metrics_port > 0
    specs = [await served.stub.CreateSpec(pb.CreateSpecRequest(plan_json=SMALL_PLAN)) for _ in range(2)]
    for _ in range(3):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await served.stub.GetSpec(pb.GetSpecRequest(spec_id="not-a-uuid"))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await served.stub.GetSpec(pb.GetSpecRequest(spec_id=specs[0].spec.id))
    await served.stub.AnalyzeDependencies(pb.AnalyzeDependenciesRequest(spec_id=specs[0].spec.id))

    samples = await asyncio.to_thread(scrape, served.server.metrics_port)

    def value(name: str, labels: frozenset[tuple[str, str]]) -> float | None:
        return samples.get((name, labels))

    assert value("grpc_server_started_total", rpc_labels("CreateSpec")) == 2
    assert value("grpc_server_started_total", rpc_labels("GetSpec")) == 4
    assert value("grpc_server_handled_total", rpc_labels("CreateSpec", grpc_code="OK")) == 2
    assert value("grpc_server_handled_total", rpc_labels("GetSpec", grpc_code="OK")) == 1
    assert value("grpc_server_handled_total", rpc_labels("GetSpec", grpc_code="INVALID_ARGUMENT")) == 3
    assert value("grpc_server_handled_total", rpc_labels("CreateSpec", grpc_code="INVALID_ARGUMENT")) is None
    assert value("grpc_server_handling_seconds_bucket", rpc_labels("CreateSpec", le="+Inf")) == 2
    assert value("grpc_server_handling_seconds_bucket", rpc_labels("GetSpec", le="10.0")) == 4
    assert value("grpc_server_handling_seconds_count", rpc_labels("AnalyzeDependencies")) == 1
    assert value("devmatrix_wave_analysis_total", frozenset({("outcome", "success")})) == 1
    # Only this server's series: no other method was called.
    methods = {
        dict(labels).get("grpc_method") for name, labels in samples if name == "grpc_server_started_total"
    }
    assert methods == {"CreateSpec", "GetSpec", "AnalyzeDependencies"}


# --- request ids ------------------------------------------------------------------------------


async def test_request_id_is_echoed_and_carried_in_error_details(served: Served) -> None:
    created = await served.stub.CreateSpec(pb.CreateSpecRequest(plan_json=SMALL_PLAN))
    call = served.stub.GetSpec(
        pb.GetSpecRequest(spec_id=created.spec.id), metadata=(("x-request-id", "abc"),)
    )
    assert (await call).spec.id == created.spec.id
    assert dict(await call.initial_metadata())["x-request-id"] == "abc"

    call = served.stub.GetSpec(pb.GetSpecRequest(spec_id="not-a-uuid"), metadata=(("x-request-id", "abc"),))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [info.request_id for info in details(raised.value, error_details_pb2.RequestInfo)] == ["abc"]
    bad = details(raised.value, error_details_pb2.BadRequest)
    assert [v.field for b in bad for v in b.field_violations] == ["spec_id"]

    # Without one the server makes one up and still returns it.
    call = served.stub.GetSpec(pb.GetSpecRequest(spec_id=created.spec.id))
    await call
    generated = dict(await call.initial_metadata())["x-request-id"]
    assert generated and generated != "abc"


# --- message size limit ---------------------------------------------------------------------


async def test_oversized_request_is_rejected_and_the_server_keeps_serving(
    database_url: str, tmp_path: Path
) -> None:
    limit = 64 * 1024
    settings = dataclasses.replace(settings_for(database_url, tmp_path), max_message_bytes=limit)
    server = await start_server(build_orchestrator, settings, "orchestrator", port=0, metrics_port=0)
    try:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            huge = "# Huge\n\n" + ("- The service stores notes and lists them.\n" * (limit // 40 + 100))
            assert pb.CreateSpecRequest(markdown=huge).ByteSize() > limit
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.CreateSpec(pb.CreateSpecRequest(markdown=huge), timeout=10)
            assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

            created = await stub.CreateSpec(pb.CreateSpecRequest(plan_json=SMALL_PLAN), timeout=10)
            assert created.created
            got = await stub.GetSpec(pb.GetSpecRequest(spec_id=created.spec.id), timeout=10)
            assert got.spec.title == "Notes API"
        assert await health_status(server.address) == SERVING
    finally:
        await server.stop(0)


# --- a service process: graceful shutdown and config errors -----------------------------------


def service_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_PORT", "_ADDR", "_METRICS_PORT")) and k not in {"DATABASE_URL", "NEO4J_URI"}
    }
    env.update(PYTHONUNBUFFERED="1", **overrides)
    return env


def json_lines(text: str) -> list[dict]:
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


async def test_sigterm_drains_streams_and_exits_cleanly(database_url: str, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    grace = 5.0
    env = service_env(
        DATABASE_URL=database_url,
        DEVMATRIX_DATA_DIR=str(tmp_path / "data"),
        BIND_HOST="127.0.0.1",
        ORCHESTRATOR_PORT=str(port),
        ORCHESTRATOR_METRICS_PORT=str(metrics_port),
        SHUTDOWN_GRACE_SECONDS=str(grace),
        HEALTH_POLL_SECONDS="0.2",
    )
    stderr_path = tmp_path / "orchestrator.stderr"
    with stderr_path.open("w") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.orchestrator",
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.returncode is None, f"exited with {process.returncode}:\n{stderr_path.read_text()}"
            try:
                if await health_status(address) == SERVING:
                    break
            except grpc.aio.AioRpcError:
                pass
            assert time.monotonic() < deadline, f"not SERVING after 60s:\n{stderr_path.read_text()}"
            await asyncio.sleep(0.2)

        async with grpc.aio.insecure_channel(address) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            created = await stub.CreateSpec(pb.CreateSpecRequest(plan_json=SMALL_PLAN), timeout=10)
            stream = stub.WatchProgress(
                pb.WatchProgressRequest(spec_id=created.spec.id, include_snapshot=True)
            )
            first = await asyncio.wait_for(stream.read(), timeout=10)
            assert first.snapshot.spec_id == created.spec.id

            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            # The stream ends (drained by the server), it does not hang until the grace runs out.
            rest = await asyncio.wait_for(stream.read(), timeout=grace + 5)
            assert rest is grpc.aio.EOF
            assert await stream.code() == grpc.StatusCode.OK
            code = await asyncio.wait_for(process.wait(), timeout=grace + 5)
            assert code == 0, stderr_path.read_text()
            assert time.monotonic() - signalled < grace + 2
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    text = stderr_path.read_text()
    assert "Traceback" not in text, text
    events = json_lines(text)
    names = [e.get("event") for e in events]
    assert "serving" in names
    stopping = next(e for e in events if e.get("event") == "stopping")
    stopped = next(e for e in events if e.get("event") == "stopped")
    assert stopping["service"] == stopped["service"] == "orchestrator"
    assert stopping["grace_seconds"] == grace
    assert stopping["level"] == stopped["level"] == "info"
    assert names.index("serving") < names.index("stopping") < names.index("stopped")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ORCHESTRATOR_PORT", "abc"), ("ORCHESTRATOR_PORT", "70000"), ("DB_POOL_SIZE", "x")],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, variable: str, value: str) -> None:
    env = service_env(DEVMATRIX_DATA_DIR=str(tmp_path / "data"), **{variable: value})
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.orchestrator"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert variable in lines[0]
    assert repr(value) in lines[0] or value in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert time.monotonic() - started < 30
    assert not (tmp_path / "data").exists()  # nothing was started
