"""ServiceMonitor, PrometheusRules and their promtool unit tests, and the Grafana dashboard."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.deploy.support import (
    ALERTED_SERVICES,
    LOOSENED_THRESHOLDS,
    NAMESPACE,
    OVERLAYS,
    REQUIRED_ALERTS,
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
