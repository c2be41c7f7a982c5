"""docker-compose.yml and the Dockerfile."""

from __future__ import annotations

import copy
import fnmatch
import functools
import importlib.resources
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from concurrent import futures

import grpc
import jsonschema
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.deploy.support import (
    BACKEND_IMAGES,
    BACKENDS_OF,
    COMPOSE,
    GATEWAY,
    GATEWAY_PORT,
    GATEWAY_SETTINGS,
    GATEWAY_UPSTREAMS,
    HEALTH_SCRIPT,
    K8S,
    LLM_SETTINGS,
    ROOT,
    SERVICES,
    run,
)

# ---------------------------------------------------------------------------------------------
# docker-compose.yml


@functools.cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@functools.cache
def compose_schema() -> dict:
    try:
        vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        pytest.fail(
            "check-jsonschema (ships the compose-spec schema) missing: pip install -r requirements-dev.txt"
        )
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


def test_compose_file_matches_the_compose_spec_schema():
    jsonschema.validate(compose(), compose_schema())


def test_compose_schema_check_rejects_a_typo():
    broken = copy.deepcopy(compose())
    broken["services"]["orchestrator"]["depends_onn"] = broken["services"]["orchestrator"].pop("depends_on")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_docker_compose_config_when_the_plugin_exists():
    """`docker compose config -q` is authoritative where the compose plugin is installed (not here)."""
    docker = shutil.which("docker")
    if docker is None or run([docker, "compose", "version"]).returncode != 0:
        # The schema test above still validates the file; this adds the CLI's own checks when present.
        return
    proc = run([docker, "compose", "-f", str(COMPOSE), "config", "-q"], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_compose_backends_use_real_images_volumes_and_healthchecks():
    services, volumes = compose()["services"], compose()["volumes"]
    assert services.keys() == BACKEND_IMAGES.keys() | SERVICES.keys() | {GATEWAY}
    for name, image in BACKEND_IMAGES.items():
        svc = services[name]
        assert svc["image"].split(":")[0] == image.split(":")[0] and svc["image"].startswith(image), name
        assert svc["healthcheck"]["test"], name
        named = [v.split(":")[0] for v in svc["volumes"]]
        assert named and all(v in volumes for v in named), f"{name} must keep its data in a named volume"
    assert services["neo4j"]["environment"]["NEO4J_AUTH"].startswith("neo4j/")


def test_compose_devmatrix_services_match_the_port_table():
    services = compose()["services"]
    for name, (grpc_port, metrics_port, grpc_service) in SERVICES.items():
        svc = services[name]
        env = svc["environment"]
        assert svc["build"]["context"] == "." and svc["image"] == "devmatrix:latest"
        assert svc["command"] == ["python", "-m", f"services.{name}"]
        assert sorted(svc["ports"]) == sorted([f"{grpc_port}:{grpc_port}", f"{metrics_port}:{metrics_port}"])
        assert env[f"{name.upper()}_PORT"] == str(grpc_port)
        assert env[f"{name.upper()}_METRICS_PORT"] == str(metrics_port)
        test = svc["healthcheck"]["test"]
        assert test == [
            "CMD",
            "python",
            "/app/scripts/grpc_health_check.py",
            f"localhost:{grpc_port}",
            grpc_service,
        ]
        for other, (other_port, _, _) in SERVICES.items():
            assert env[f"{other.upper()}_ADDR"] == f"{other}:{other_port}", f"{name}: {other.upper()}_ADDR"


def test_compose_services_wait_for_healthy_backends():
    services = compose()["services"]
    for name, backends in BACKENDS_OF.items():
        depends = services[name].get("depends_on", {})
        assert backends <= depends.keys(), f"{name} must wait for {backends - depends.keys()}"
        for dep, cond in depends.items():
            assert cond == {"condition": "service_healthy"}, f"{name} -> {dep}"
            assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
    env = {n: services[n]["environment"] for n in SERVICES}
    assert "postgres:5432" in env["orchestrator"]["DATABASE_URL"]
    assert env["orchestrator"]["NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["context"]["REDIS_URL"].startswith("redis://redis:6379")
    assert env["patterns"]["QDRANT_URL"] == "http://qdrant:6333"
    assert "postgres:5432" in env["skills"]["DATABASE_URL"]


def compose_default(value: str) -> str:
    """The default of a `${VAR:-default}` value (the value itself when it is not one)."""
    match = re.fullmatch(r"\$\{(\w+):-([^}]*)\}", value)
    return match.group(2) if match else value


def test_compose_codegen_takes_the_key_from_the_environment_and_llm_settings_like_kubernetes():
    env = compose()["services"]["codegen"]["environment"]
    # Unset or empty: the offline generator; never a key in the file.
    assert env["ANTHROPIC_API_KEY"] == "${ANTHROPIC_API_KEY:-}"
    config = yaml.safe_load((K8S / "base" / "configmap.yaml").read_text())["data"]
    for key in LLM_SETTINGS:
        assert env[key] == f"${{{key}:-{config[key]}}}", key
        assert compose_default(env[key]) == config[key], key
    assert "ANTHROPIC_API_KEY" not in compose()["x-devmatrix-env"]
    # In-flight generations (minutes) are drained on stop, within the stop grace period.
    grace = float(env["SHUTDOWN_GRACE_SECONDS"])
    assert grace > float(config["LLM_TIMEOUT_SECONDS"])
    assert float(compose()["services"]["codegen"]["stop_grace_period"].removesuffix("s")) > grace


def test_compose_skills_stores_results_in_postgres():
    services = compose()["services"]
    skills, orchestrator = services["skills"], services["orchestrator"]
    assert skills["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # The same database as the orchestrator (skills keeps its own schema).
    assert skills["environment"]["DATABASE_URL"] == orchestrator["environment"]["DATABASE_URL"]
    assert skills["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert skills["environment"]["DB_POOL_SIZE"] == orchestrator["environment"]["DB_POOL_SIZE"]


def test_compose_gateway_serves_http_after_the_services_it_calls():
    services = compose()["services"]
    gateway = services[GATEWAY]
    env = gateway["environment"]
    assert gateway["build"]["context"] == "." and gateway["image"] == "devmatrix:latest"
    assert gateway["command"] == ["python", "-m", "gateway"]
    assert gateway["ports"] == [f"{GATEWAY_PORT}:{GATEWAY_PORT}"]
    assert env["GATEWAY_PORT"] == str(GATEWAY_PORT) and env["BIND_HOST"] == "0.0.0.0"
    for name in GATEWAY_UPSTREAMS:
        assert env[f"{name.upper()}_ADDR"] == f"{name}:{SERVICES[name][0]}", name
        assert gateway["depends_on"][name] == {"condition": "service_healthy"}, name
    # The settings, with the ConfigMap's values as defaults.
    config = yaml.safe_load((K8S / "base" / "configmap.yaml").read_text())["data"]
    for key in GATEWAY_SETTINGS:
        assert env[key] == f"${{{key}:-{config[key]}}}", key
    # The liveness route, on the gateway's own port, with what the image has (no curl).
    test = gateway["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert f"http://localhost:{GATEWAY_PORT}/health/live" in test[3]
    compile(test[3], "healthcheck", "exec")
    assert gateway["healthcheck"]["interval"]


def test_compose_start_order_has_no_cycle():
    graph = {n: set(s.get("depends_on", {})) for n, s in compose()["services"].items()}
    done: set[str] = set()
    while graph.keys() - done:
        ready = {n for n in graph.keys() - done if graph[n] <= done}
        assert ready, f"depends_on cycle among {sorted(graph.keys() - done)}"
        done |= ready


# ---------------------------------------------------------------------------------------------
# Dockerfile


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip()[:1] not in ("", "#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.removeprefix("**/"))
        for pat in patterns
        for p in prefixes
    )


def test_dockerfile_builds_the_documented_image():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [
        line.split(None, 1) for line in text.splitlines() if line and not line.startswith((" ", "#"))
    ]
    assert instructions[0] == ["FROM", "python:3.11-slim"]
    assert "pip install -r requirements.txt" in text
    assert "PYTHON=python bash scripts/gen_protos.sh" in text
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for port in [*(p for ports in SERVICES.values() for p in ports[:2]), GATEWAY_PORT]:
        assert re.search(rf"\b{port}\b", text), f"EXPOSE {port}"


def test_dockerignore_keeps_sources_and_drops_local_state():
    for needed in (
        "requirements.txt",
        "scripts/gen_protos.sh",
        "scripts/grpc_health_check.py",
        "protos/x.proto",
    ):
        assert not dockerignored(needed), needed
    for local in (
        ".venv/bin/python",
        ".git/HEAD",
        "devmatrix/v1/orchestrator_pb2.py",
        "services/x/__pycache__/a.pyc",
    ):
        assert dockerignored(local), local


# ---------------------------------------------------------------------------------------------
# scripts/grpc_health_check.py against a real gRPC health server


@pytest.fixture
def health_server():
    servicer = health.HealthServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(None)


def health_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTH_SCRIPT), *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_health_check_exit_codes(health_server):
    servicer, target = health_server
    name = SERVICES["orchestrator"][2]
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    assert health_check(target).returncode == 0
    proc = health_check(target, name)
    assert proc.returncode == 1 and "NOT_SERVING" in proc.stdout
    servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    assert health_check(target, name).returncode == 0
    proc = health_check(target, "devmatrix.v1.NoSuchService")
    assert proc.returncode == 1 and "NOT_FOUND" in proc.stderr
    assert health_check().returncode == 2


def test_health_check_fails_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, str(HEALTH_SCRIPT), f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "GRPC_HEALTH_TIMEOUT": "1"},
    )
    assert proc.returncode == 1
    assert "UNAVAILABLE" in proc.stderr or "DEADLINE_EXCEEDED" in proc.stderr
