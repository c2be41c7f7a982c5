"""The kustomize base and overlays: rendered, validated against the Kubernetes schemas, and
consistent with the port table."""

from __future__ import annotations

import copy
import re

import kubernetes_validate
import pytest

from devmatrix.runtime.config import DEFAULT_ANTHROPIC_MODEL, Settings
from tests.deploy.support import (
    CLUSTER_SCOPED,
    CRD_KINDS,
    GATEWAY,
    GATEWAY_PORT,
    GATEWAY_SETTINGS,
    GATEWAY_UPSTREAMS,
    K8S_VERSION,
    LLM_SETTINGS,
    NAMESPACE,
    OVERLAYS,
    SECRET_ENV,
    SERVICES,
    WORKLOADS,
    alerts_by_name,
    by_kind,
    container,
    render,
)

# ---------------------------------------------------------------------------------------------
# kustomize + Kubernetes schemas


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_objects_validate_against_kubernetes_schemas(overlay):
    docs = render(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "Ingress", *CRD_KINDS} <= kinds
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
    assert deployments.keys() == set(WORKLOADS)
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
        # Graceful shutdown needs more than SHUTDOWN_GRACE_SECONDS (the container's own value, else
        # the ConfigMap's) before SIGKILL.
        config = by_kind(docs, "ConfigMap")["devmatrix-config"]["data"]
        env = {v["name"]: v["value"] for v in c.get("env", []) if "value" in v}
        grace = float(env.get("SHUTDOWN_GRACE_SECONDS", config["SHUTDOWN_GRACE_SECONDS"]))
        assert pod["spec"]["terminationGracePeriodSeconds"] > grace, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_expose_grpc_and_metrics_ports_of_their_pods(overlay):
    docs = render(overlay)
    services, deployments = by_kind(docs, "Service"), by_kind(docs, "Deployment")
    assert services.keys() == set(WORKLOADS)
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
    assert config["GATEWAY_PORT"] == str(GATEWAY_PORT)


def secret_name(ref: dict, overlay: str) -> str:
    """The Secret a secretKeyRef names, without the hash suffix dev's secretGenerator adds."""
    name = ref["name"]
    if overlay == "overlays/dev":
        name = re.sub(r"-[a-z0-9]{10}$", "", name)
    return name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_env_references_resolve(overlay):
    """envFrom names a rendered ConfigMap; required secrets are rendered (dev) or supplied out of
    band; optional ones (the Anthropic key) are never rendered."""
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
            if ref.get("optional"):
                assert ref["name"] not in secrets, f"{name}: {var['name']}: optional Secret rendered"
            elif overlay == "overlays/dev":
                assert ref["name"] in secrets, f"{name}: {var['name']} -> missing Secret {ref['name']}"
                assert ref["key"] in secrets[ref["name"]]["data"], f"{name}: {var['name']}"
            else:
                assert ref["name"] == "devmatrix-secrets", f"{name}: {var['name']}"
    if overlay != "overlays/dev":
        assert not secrets, f"k8s/{overlay} must not carry secrets"
    else:
        assert {secret_name({"name": n}, overlay) for n in secrets} == {"devmatrix-secrets"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_gets_exactly_its_secrets(overlay):
    """skills reads DATABASE_URL from the orchestrator's Secret; codegen's Anthropic key is optional."""
    deployments = by_kind(render(overlay), "Deployment")
    for name, expected in SECRET_ENV.items():
        got = {}
        for var in container(deployments[name]).get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                got[var["name"]] = (secret_name(ref, overlay), ref["key"], ref.get("optional", False))
        assert got == expected, name
    # Both PostgreSQL users read the same Secret key (skills keeps its own schema in that database).
    assert SECRET_ENV["skills"]["DATABASE_URL"] == SECRET_ENV["orchestrator"]["DATABASE_URL"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_llm_settings_come_from_the_configmap_and_parse(overlay):
    """The codegen settings are non-secret ConfigMap values that the service's own parser accepts;
    the API key is not among them."""
    config = by_kind(render(overlay), "ConfigMap")["devmatrix-config"]["data"]
    assert set(LLM_SETTINGS) <= config.keys()
    assert not any("API_KEY" in key for key in config)
    settings = Settings.from_env(config)
    assert settings.anthropic_api_key is None
    assert settings.anthropic_model == config["ANTHROPIC_MODEL"]
    # The ConfigMap states the model the code defaults to: change them together.
    assert config["ANTHROPIC_MODEL"] == DEFAULT_ANTHROPIC_MODEL, "devmatrix/runtime/config.py"
    assert settings.llm_timeout_seconds == float(config["LLM_TIMEOUT_SECONDS"])
    assert settings.llm_max_retries == int(config["LLM_MAX_RETRIES"])
    assert settings.codegen_max_attempts == int(config["CODEGEN_MAX_ATTEMPTS"])
    # The whole ConfigMap parses (ports, addresses, pool size, deadlines).
    assert settings.addr("codegen") == config["CODEGEN_ADDR"]


# ---------------------------------------------------------------------------------------------
# the HTTP gateway


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_deployment_serves_http_with_its_probes(overlay):
    docs = render(overlay)
    dep = by_kind(docs, "Deployment")[GATEWAY]
    pod = dep["spec"]["template"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    c = container(dep)
    assert c["command"] == ["python", "-m", "gateway"]
    assert c["image"].split(":")[0].endswith("devmatrix")
    assert [(p["name"], p["containerPort"]) for p in c["ports"]] == [("http", GATEWAY_PORT)]
    # Liveness: the process answers; readiness: the services answer (gateway/routes/system.py).
    probes = ("startupProbe", "livenessProbe", "readinessProbe")
    paths = [c[probe]["httpGet"]["path"] for probe in probes]
    assert paths == ["/health/live", "/health/live", "/health/ready"]
    for probe in probes:
        assert c[probe]["httpGet"]["port"] in ("http", GATEWAY_PORT), probe
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= c["resources"][kind].keys(), kind
    pod_sc = pod["spec"]["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] != 0
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    config = by_kind(docs, "ConfigMap")["devmatrix-config"]["data"]
    assert pod["spec"]["terminationGracePeriodSeconds"] > float(config["SHUTDOWN_GRACE_SECONDS"])
    # Its settings and the addresses of the services it calls come from the ConfigMap.
    assert [s["configMapRef"]["name"] for s in c["envFrom"]] == ["devmatrix-config"]
    assert {f"{s.upper()}_ADDR" for s in GATEWAY_UPSTREAMS} <= config.keys()
    assert set(GATEWAY_SETTINGS) <= config.keys()
    assert not c.get("env"), "the gateway takes no secrets"


def test_gateway_upstreams_are_the_services_its_clients_call():
    from gateway.clients import SERVICES as CALLED

    assert tuple(CALLED) == GATEWAY_UPSTREAMS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_service_and_ingress(overlay):
    docs = render(overlay)
    svc = by_kind(docs, "Service")[GATEWAY]
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("http", GATEWAY_PORT, "http")
    ]
    pod_labels = by_kind(docs, "Deployment")[GATEWAY]["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    ingresses = by_kind(docs, "Ingress")
    assert ingresses.keys() == {GATEWAY}
    ingress = ingresses[GATEWAY]
    assert ingress["spec"]["ingressClassName"]
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    assert path["backend"]["service"] == {"name": GATEWAY, "port": {"name": "http"}}


def nginx_size(value: str) -> int:
    units = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert match, value
    return int(match.group(1)) * units[match.group(2)]


def test_gateway_ingress_lets_long_requests_and_bodies_through_to_the_gateway():
    """ingress-nginx's defaults (60s read timeout, 1m body, buffering) would cut a task execution
    that waits for its wave, turn large bodies into the proxy's 413 page and delay events."""
    docs = render("base")
    config = by_kind(docs, "ConfigMap")["devmatrix-config"]["data"]
    annotations = by_kind(docs, "Ingress")[GATEWAY]["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    execute = float(config["GATEWAY_EXECUTE_TIMEOUT_SECONDS"])
    assert float(annotations[prefix + "proxy-read-timeout"]) > execute
    assert float(annotations[prefix + "proxy-send-timeout"]) > execute
    assert nginx_size(annotations[prefix + "proxy-body-size"]) > int(config["GATEWAY_MAX_BODY_BYTES"])
    assert annotations[prefix + "proxy-buffering"] == "off"


def test_codegen_drains_a_model_call_in_flight_before_it_stops():
    """codegen's shutdown grace outlasts one model call; the pod's grace outlasts the drain."""
    docs = render("base")
    config = by_kind(docs, "ConfigMap")["devmatrix-config"]["data"]
    dep = by_kind(docs, "Deployment")["codegen"]
    env = {v["name"]: v.get("value") for v in container(dep)["env"]}
    grace = float(env["SHUTDOWN_GRACE_SECONDS"])
    assert grace > float(config["LLM_TIMEOUT_SECONDS"])
    assert dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace


def test_codegen_latency_alert_states_the_configured_limits():
    """CodegenHighLatency explains its 5-minute limit with the attempts and LLM timeout: keep the
    explanation true when the ConfigMap changes."""
    config = by_kind(render("base"), "ConfigMap")["devmatrix-config"]["data"]
    description = alerts_by_name("codegen")["CodegenHighLatency"]["annotations"]["description"]
    assert f"up to {config['CODEGEN_MAX_ATTEMPTS']} attempts" in description
    assert f"the {config['LLM_TIMEOUT_SECONDS']}s LLM timeout" in description


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
