"""ServiceMonitor, PrometheusRules and their promtool unit tests, and the Grafana dashboard."""

from __future__ import annotations

import functools
import json
import re

import pytest
import yaml

from tests.deploy.support import (
    ALERTED_SERVICES,
    K8S,
    LOOSENED_THRESHOLDS,
    NAMESPACE,
    OVERLAYS,
    REQUIRED_ALERTS,
    ROOT,
    SERVICES,
    alert_tests,
    alerts_by_name,
    by_kind,
    promtool,
    promtool_test_rules,
    render,
    rule_groups,
    run,
    write_rules_file,
)

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


def test_every_service_has_deployed_and_unit_tested_rules():
    """Each k8s/base/prometheus/<service>-rules.yaml is listed in kustomization.yaml, has its
    k8s/tests/<service>-alerts.test.yaml and is checked above (ALERTED_SERVICES)."""
    rule_files = {p.name.removesuffix("-rules.yaml") for p in (K8S / "base" / "prometheus").glob("*.yaml")}
    test_files = {p.name.removesuffix("-alerts.test.yaml") for p in (K8S / "tests").glob("*.yaml")}
    assert rule_files == test_files == set(ALERTED_SERVICES) == SERVICES.keys()
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    listed = {r for r in kustomization["resources"] if r.startswith("prometheus/")}
    assert listed == {f"prometheus/{s}-rules.yaml" for s in ALERTED_SERVICES}


# A devmatrix_* metric selector (name without the _total/_bucket/... suffix) and its matchers.
METRIC_SELECTOR = re.compile(r"\b(devmatrix_\w+?)(?:_total|_bucket|_sum|_count)?\{([^}]*)\}")
MATCHER_LABEL = re.compile(r'(\w+)\s*(?:=~|!~|!=|=)\s*"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
SCRAPE_LABELS = {"job", "instance", "le"}


@functools.cache
def exporting_source(service: str) -> str:
    """The Python code that can define a service's metrics: its package and the shared runtime."""
    files = [*(ROOT / "services" / service).rglob("*.py"), *(ROOT / "devmatrix").rglob("*.py")]
    return "\n".join(p.read_text() for p in files if not p.name.endswith("_pb2.py"))


@pytest.mark.parametrize("service", ALERTED_SERVICES)
def test_alerts_use_metric_and_label_names_the_service_defines(service):
    """A renamed metric or label turns an alert silent without any error: the names in the rules
    must be string literals in the service's code (where prometheus_client declares them)."""
    source = exporting_source(service)
    for name, rule in alerts_by_name(service).items():
        labels = {label.strip() for group in GROUPING.findall(rule["expr"]) for label in group.split(",")}
        for metric, matchers in METRIC_SELECTOR.findall(rule["expr"]):
            assert re.search(rf'"{metric}(_total)?"', source), (
                f"{name}: {metric} not defined in services/{service}"
            )
            labels |= set(MATCHER_LABEL.findall(matchers))
        for label in labels - SCRAPE_LABELS - {""}:
            assert f'"{label}"' in source, f"{name}: label {label} not defined in services/{service}"


def test_codegen_latency_limits_are_bucket_bounds_of_the_generation_histogram():
    """CodegenHighLatency reads the share of generations above a bucket bound: a bound that is not
    a bucket matches no series and the alert can never fire."""
    from services.codegen.metrics import GENERATION_BUCKETS

    expr = alerts_by_name("codegen")["CodegenHighLatency"]["expr"]
    bounds = [float(b) for b in re.findall(r'le=~"(\d+)\(', expr)]
    assert bounds == [300.0, 30.0]
    assert set(bounds) <= {float(b) for b in GENERATION_BUCKETS}, GENERATION_BUCKETS


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
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "duplicate panel ids"
    assert all(p["targets"] for p in panels if p["type"] != "row")
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    assert exprs
    # Every service's own metrics have a panel.
    for prefix in ("devmatrix_skills_", "devmatrix_codegen_", "devmatrix_codegen_llm_cost_usd_total"):
        assert any(prefix in e for e in exprs), prefix
    # promtool only parses PromQL inside rule files: wrap each query in a recording rule.
    rules = [{"record": f"dashboard:query{i}", "expr": e.replace("$job", ".+")} for i, e in enumerate(exprs)]
    proc = run(
        [promtool(), "check", "rules", str(write_rules_file(tmp_path, [{"name": "d", "rules": rules}]))]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
