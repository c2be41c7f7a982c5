"""Deployment artefacts: kustomize base + overlays, Prometheus rules, docker-compose, Dockerfile.

Tools (never skipped: a missing tool is a failure that says how to install it):
- kustomize: .tools/bin/kustomize from scripts/install_go_tools.sh (or kustomize / kubectl on PATH)
- promtool: Debian's `prometheus` package
- kubernetes-validate (bundled Kubernetes JSON schemas) and check-jsonschema (bundled compose-spec
  schema): requirements-dev.txt
"""

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
from pathlib import Path

import grpc
import jsonschema
import kubernetes_validate
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
HEALTH_SCRIPT = ROOT / "scripts" / "grpc_health_check.py"
NAMESPACE = "devmatrix"
K8S_VERSION = "1.32"

# The fixed port table: name -> (gRPC port, metrics port, gRPC service name).
SERVICES = {
    "orchestrator": (50051, 9101, "devmatrix.v1.OrchestratorService"),
    "context": (50052, 9102, "devmatrix.v1.ContextService"),
    "codegen": (50053, 9103, "devmatrix.v1.CodegenService"),
    "patterns": (50054, 9104, "devmatrix.v1.PatternsService"),
    "skills": (50055, 9105, "devmatrix.v1.SkillsService"),
}
# Which backends each service needs before it can report SERVING (compose depends_on).
BACKENDS_OF = {
    "orchestrator": {"postgres", "neo4j"},
    "context": {"redis"},
    "codegen": set(),
    "patterns": {"qdrant"},
    "skills": {"postgres"},
}
BACKEND_IMAGES = {
    "postgres": "postgres:16",
    "neo4j": "neo4j:5",
    "qdrant": "qdrant/qdrant",
    "redis": "redis:7",
}
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
# Alert rules per service: k8s/base/prometheus/<service>-rules.yaml holds PrometheusRule
# devmatrix-<service>, unit-tested by k8s/tests/<service>-alerts.test.yaml.
# The alerts each one must carry: name -> (`for`, severity).
REQUIRED_ALERTS = {
    "orchestrator": {
        "OrchestratorHighErrorRate": ("5m", "critical"),
        "OrchestratorHighLatency": ("10m", "warning"),
        "OrchestratorWaveAnalysisFailing": ("5m", "warning"),
        "OrchestratorDependencyCyclesRejected": (None, "info"),
        "OrchestratorDown": ("2m", "critical"),
    },
    "context": {
        "ContextHighErrorRate": ("5m", "critical"),
        "ContextHighLatency": ("10m", "warning"),
        "ContextCacheHitRatioLow": ("15m", "warning"),
        "ContextDegradedRateHigh": ("10m", "warning"),
        "ContextDown": ("2m", "critical"),
    },
    "patterns": {
        "PatternsHighErrorRate": ("5m", "critical"),
        "PatternsHighLatency": ("10m", "warning"),
        "PatternsSearchSlow": ("10m", "warning"),
        "PatternsEmbeddingFailures": ("5m", "warning"),
        "PatternsDown": ("2m", "critical"),
    },
}
ALERTED_SERVICES = list(REQUIRED_ALERTS)
# Loosening one threshold per service must break that service's unit tests:
# (service, alert, threshold in the expr, loosened threshold).
LOOSENED_THRESHOLDS = [
    ("orchestrator", "OrchestratorHighErrorRate", ") > 0.05", ") > 0.5"),
    ("context", "ContextCacheHitRatioLow", ") < 0.5", ") < 0.1"),
    ("context", "ContextDegradedRateHigh", ") > 0.1", ") > 0.2"),
    ("patterns", "PatternsSearchSlow", ") > 0.1", ") > 0.2"),
    ("patterns", "PatternsHighLatency", ") > 0.25", ") > 0.5"),
]
OVERLAYS = ["base", "overlays/dev", "overlays/prod"]
CLUSTER_SCOPED = {"Namespace"}


# ---------------------------------------------------------------------------------------------
# tools


def kustomize_command() -> list[str]:
    local = ROOT / ".tools" / "bin" / "kustomize"
    if local.is_file():
        return [str(local), "build"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    pytest.fail("kustomize not found: run scripts/install_go_tools.sh (installs .tools/bin/kustomize)")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install Debian's prometheus package (apt-get install -y prometheus)")
    return path


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    proc = run([*kustomize_command(), str(K8S / overlay)])
    assert proc.returncode == 0, f"kustomize build k8s/{overlay} failed:\n{proc.stderr}"
    docs = tuple(d for d in yaml.safe_load_all(proc.stdout) if d)
    assert docs, f"kustomize build k8s/{overlay} rendered nothing"
    return docs


def by_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def rules_manifest(service: str) -> Path:
    return K8S / "base" / "prometheus" / f"{service}-rules.yaml"


def alert_tests(service: str) -> Path:
    return K8S / "tests" / f"{service}-alerts.test.yaml"


def write_rules_file(directory: Path, groups: list, service: str = "orchestrator") -> Path:
    """The plain rules file named in the service's alert tests' rule_files."""
    path = directory / f"{service}-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def rule_groups(service: str) -> list:
    return yaml.safe_load(rules_manifest(service).read_text())["spec"]["groups"]


def alerts_by_name(service: str) -> dict[str, dict]:
    return {r["alert"]: r for g in rule_groups(service) for r in g["rules"] if "alert" in r}


def promtool_test_rules(directory: Path, service: str, groups: list) -> subprocess.CompletedProcess[str]:
    write_rules_file(directory, groups, service)
    shutil.copy(alert_tests(service), directory / alert_tests(service).name)
    return run([promtool(), "test", "rules", alert_tests(service).name], cwd=directory)


def container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


# ---------------------------------------------------------------------------------------------
# kustomize + Kubernetes schemas


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_objects_validate_against_kubernetes_schemas(overlay):
    docs = render(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", *CRD_KINDS} <= kinds
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"k8s/{overlay}: {doc['kind']}/{doc['metadata']['name']}: {err}")


def test_kubernetes_validation_rejects_a_broken_manifest():
    """The schema check above can fail: a typo'd probe field and a string port are errors."""
    deployment = copy.deepcopy(by_kind(render("base"), "Deployment")["orchestrator"])
    container(deployment)["readinessProbe"]["grpc"]["prot"] = 50051
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment = copy.deepcopy(by_kind(render("base"), "Deployment")["orchestrator"])
    container(deployment)["readinessProbe"]["grpc"]["port"] = "grpc"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lives_in_the_devmatrix_namespace(overlay):
    docs = render(overlay)
    assert by_kind(docs, "Namespace").keys() == {NAMESPACE}
    for doc in docs:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_match_the_port_table(overlay):
    docs = render(overlay)
    deployments = by_kind(docs, "Deployment")
    assert deployments.keys() == SERVICES.keys()
    for name, (grpc_port, metrics_port, grpc_service) in SERVICES.items():
        dep = deployments[name]
        pod = dep["spec"]["template"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        c = container(dep)
        assert c["command"] == ["python", "-m", f"services.{name}"]
        assert c["image"].split(":")[0].endswith("devmatrix")
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"grpc": grpc_port, "metrics": metrics_port}, name
        for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = c[probe_name]["grpc"]
            assert probe["port"] == grpc_port, f"{name} {probe_name}"
        assert c["readinessProbe"]["grpc"]["service"] == grpc_service
        assert c["livenessProbe"]["grpc"]["service"] in ("", grpc_service)
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= c["resources"][kind].keys(), f"{name} {kind}"
        pod_sc = pod["spec"]["securityContext"]
        assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] != 0
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        # Graceful shutdown needs more than SHUTDOWN_GRACE_SECONDS before SIGKILL.
        config = by_kind(docs, "ConfigMap")["devmatrix-config"]["data"]
        assert pod["spec"]["terminationGracePeriodSeconds"] > int(config["SHUTDOWN_GRACE_SECONDS"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_expose_grpc_and_metrics_ports_of_their_pods(overlay):
    docs = render(overlay)
    services, deployments = by_kind(docs, "Service"), by_kind(docs, "Deployment")
    assert services.keys() == SERVICES.keys()
    for name, (grpc_port, metrics_port, _) in SERVICES.items():
        svc = services[name]
        ports = {p["name"]: p for p in svc["spec"]["ports"]}
        assert {n: p["port"] for n, p in ports.items()} == {"grpc": grpc_port, "metrics": metrics_port}
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= pod_labels.items(), f"Service {name} selects no pod"
        container_ports = {p["name"]: p["containerPort"] for p in container(deployments[name])["ports"]}
        for port in ports.values():
            target = port["targetPort"]
            assert container_ports.get(target, target) in container_ports.values(), f"{name} {target}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_configmap_wiring_points_at_existing_services(overlay):
    docs = render(overlay)
    config = by_kind(docs, "ConfigMap")["devmatrix-config"]["data"]
    services = by_kind(docs, "Service")
    addrs = {k: v for k, v in config.items() if k.endswith("_ADDR")}
    assert addrs.keys() == {f"{n.upper()}_ADDR" for n in SERVICES}
    for key, value in addrs.items():
        host, _, port = value.rpartition(":")
        assert host in services, f"{key}={value}: no Service {host!r}"
        grpc_ports = [p["port"] for p in services[host]["spec"]["ports"] if p["name"] == "grpc"]
        assert grpc_ports == [int(port)], f"{key}={value}: Service {host} serves gRPC on {grpc_ports}"
    for name, (grpc_port, metrics_port, _) in SERVICES.items():
        assert config[f"{name.upper()}_PORT"] == str(grpc_port)
        assert config[f"{name.upper()}_METRICS_PORT"] == str(metrics_port)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_env_references_resolve(overlay):
    """envFrom names a rendered ConfigMap; secrets are rendered (dev) or supplied out of band."""
    docs = render(overlay)
    configmaps, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")
    for name, dep in by_kind(docs, "Deployment").items():
        c = container(dep)
        for source in c["envFrom"]:
            assert source["configMapRef"]["name"] in configmaps, name
        for var in c.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref is None:
                continue
            if overlay == "overlays/dev":
                assert ref["name"] in secrets, f"{name}: {var['name']} -> missing Secret {ref['name']}"
                assert ref["key"] in secrets[ref["name"]]["data"], f"{name}: {var['name']}"
            else:
                assert ref["name"] == "devmatrix-secrets", f"{name}: {var['name']}"
    if overlay != "overlays/dev":
        assert not secrets, f"k8s/{overlay} must not carry secrets"


def test_prod_runs_three_orchestrators_protected_by_a_disruption_budget():
    docs = render("overlays/prod")
    deployments = by_kind(docs, "Deployment")
    assert deployments["orchestrator"]["spec"]["replicas"] == 3
    assert all(d["spec"]["replicas"] >= 2 for d in deployments.values())
    pdbs = by_kind(docs, "PodDisruptionBudget")
    for name, dep in deployments.items():
        pdb = pdbs[name]
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert 1 <= pdbs["orchestrator"]["spec"]["minAvailable"] < 3
    base_cpu = container(by_kind(render("base"), "Deployment")["orchestrator"])["resources"]["limits"]
    prod_cpu = container(deployments["orchestrator"])["resources"]["limits"]
    assert prod_cpu != base_cpu, "prod resources patch did not apply"


def test_dev_runs_one_replica_each_with_debug_logs():
    docs = render("overlays/dev")
    assert {d["spec"]["replicas"] for d in by_kind(docs, "Deployment").values()} == {1}
    assert by_kind(docs, "ConfigMap")["devmatrix-config"]["data"]["LOG_LEVEL"] == "DEBUG"
    assert not by_kind(docs, "PodDisruptionBudget")


# ---------------------------------------------------------------------------------------------
# monitoring CRDs (not in the bundled Kubernetes schemas: checked structurally)


def test_servicemonitor_scrapes_every_service_metrics_port_as_its_job():
    docs = render("base")
    monitor = by_kind(docs, "ServiceMonitor")["devmatrix"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert {"selector", "endpoints"} <= monitor["spec"].keys()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    selector = monitor["spec"]["selector"]["matchLabels"]
    job_label = monitor["spec"]["jobLabel"]
    selected = {
        name: svc
        for name, svc in by_kind(docs, "Service").items()
        if selector.items() <= svc["metadata"]["labels"].items()
    }
    assert selected.keys() == SERVICES.keys()
    for name, svc in selected.items():
        # The alert rules select job="<service name>".
        assert svc["metadata"]["labels"][job_label] == name
        assert "metrics" in {p["name"] for p in svc["spec"]["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_manifests_carry_every_service_prometheus_rule(overlay):
    """kustomization.yaml lists each rules file; the rendered rule is the file, unchanged."""
    rules = by_kind(render(overlay), "PrometheusRule")
    assert rules.keys() >= {f"devmatrix-{s}" for s in ALERTED_SERVICES}
    for service in ALERTED_SERVICES:
        assert rules[f"devmatrix-{service}"]["spec"]["groups"] == rule_groups(service), service


@pytest.mark.parametrize("service", ALERTED_SERVICES)
def test_prometheus_rule_structure(service):
    doc = by_kind(render("base"), "PrometheusRule")[f"devmatrix-{service}"]
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert doc["metadata"]["namespace"] == NAMESPACE
    assert doc["metadata"]["labels"]["role"] == "alert-rules"
    alerts = {}
    for group in doc["spec"]["groups"]:
        assert group.keys() <= {"name", "interval", "rules"} and group["name"]
        for rule in group["rules"]:
            assert rule.keys() <= {
                "alert",
                "record",
                "expr",
                "for",
                "labels",
                "annotations",
                "keep_firing_for",
            }
            assert rule["alert"] not in alerts, f"duplicate alert {rule['alert']}"
            alerts[rule["alert"]] = rule
    required = REQUIRED_ALERTS[service]
    assert alerts.keys() >= required.keys()
    grpc_service = SERVICES[service][2]
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["labels"]["service"] == service, name
        assert f'job="{service}"' in rule["expr"], f"{name} must select the {service} job"
        assert {"summary", "description"} <= rule["annotations"].keys(), name
        if service != "orchestrator" and "grpc_server_" in rule["expr"]:
            # The health and reflection services share the server and its metrics.
            selectors = re.findall(r"grpc_server_\w+\{([^}]*)\}", rule["expr"])
            assert selectors, name
            for selector in selectors:
                assert f'grpc_service="{grpc_service}"' in selector, f"{name}: {selector}"
    for name, (for_, severity) in required.items():
        assert alerts[name].get("for") == for_, name
        assert alerts[name]["labels"]["severity"] == severity, name


@pytest.mark.parametrize("service", ALERTED_SERVICES)
def test_promtool_checks_the_extracted_rules(tmp_path, service):
    rules = write_rules_file(tmp_path, rule_groups(service), service)
    proc = run([promtool(), "check", "rules", str(rules)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alerts_by_name(service))} rules found" in proc.stdout


def test_promtool_rejects_a_broken_expression(tmp_path):
    groups = rule_groups("orchestrator")
    groups[0]["rules"][0]["expr"] = "sum by (job) (rate(grpc_server_handled_total[5m])"
    proc = run([promtool(), "check", "rules", str(write_rules_file(tmp_path, groups))])
    assert proc.returncode != 0


@pytest.mark.parametrize("service", ALERTED_SERVICES)
def test_promtool_alert_unit_tests_pass(tmp_path, service):
    suite = yaml.safe_load(alert_tests(service).read_text())
    assert suite["rule_files"] == [f"{service}-rules.yaml"]
    proc = promtool_test_rules(tmp_path, service, rule_groups(service))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize(("service", "alert", "threshold", "loosened"), LOOSENED_THRESHOLDS)
def test_alert_unit_tests_fail_when_a_threshold_is_wrong(tmp_path, service, alert, threshold, loosened):
    """The unit tests pin the thresholds: loosening one breaks them."""
    groups = rule_groups(service)
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == alert)
    assert rule["expr"].count(threshold) == 1, rule["expr"]
    rule["expr"] = rule["expr"].replace(threshold, loosened)
    proc = promtool_test_rules(tmp_path, service, groups)
    assert proc.returncode != 0
    assert alert in proc.stdout + proc.stderr


@pytest.mark.parametrize("service", ALERTED_SERVICES)
def test_every_alert_is_tested_both_firing_and_silent(service):
    suite = yaml.safe_load(alert_tests(service).read_text())
    fires, silent = set(), set()
    for case in suite["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = set(alerts_by_name(service))
    assert alerts <= fires, f"never shown firing: {alerts - fires}"
    assert alerts <= silent, f"never shown silent: {alerts - silent}"
    assert fires | silent <= alerts, f"tests for alerts that do not exist: {(fires | silent) - alerts}"


def test_grafana_dashboard_queries_parse(tmp_path):
    docs = render("base")
    dashboards = [
        d
        for d in by_kind(docs, "ConfigMap").values()
        if d["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    assert len(dashboards) == 1
    (content,) = dashboards[0]["data"].values()
    dashboard = json.loads(content)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    # promtool only parses PromQL inside rule files: wrap each query in a recording rule.
    rules = [{"record": f"dashboard:query{i}", "expr": e.replace("$job", ".+")} for i, e in enumerate(exprs)]
    proc = run(
        [promtool(), "check", "rules", str(write_rules_file(tmp_path, [{"name": "d", "rules": rules}]))]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


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
    assert services.keys() == BACKEND_IMAGES.keys() | SERVICES.keys()
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
    for port in [p for ports in SERVICES.values() for p in ports[:2]]:
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
