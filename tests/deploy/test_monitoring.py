"""ServiceMonitor, PrometheusRules and their promtool unit tests, and the Grafana dashboard."""

from __future__ import annotations

import functools
import json
import re

import pytest
import yaml

from tests.deploy.support import (
    ALERTED_SERVICES,
    GATEWAY,
    K8S,
    LOOSENED_THRESHOLDS,
    NAMESPACE,
    OVERLAYS,
    REQUIRED_ALERTS,
    ROOT,
    SERVICES,
    WORKLOADS,
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


# ServiceMonitor -> (the Services it must select, the port it scrapes /metrics on).
SCRAPED = {"devmatrix": (set(SERVICES), "metrics"), "devmatrix-gateway": ({GATEWAY}, "http")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_servicemonitor_scrapes_every_service_metrics_port_as_its_job(overlay):
    """The gRPC services on their metrics port, the gateway on its API port; each Service by
    exactly one ServiceMonitor (twice would duplicate every series)."""
    docs = render(overlay)
    monitors = by_kind(docs, "ServiceMonitor")
    assert monitors.keys() == SCRAPED.keys()
    scraped_by: dict[str, list[str]] = {}
    for monitor_name, (expected, port) in SCRAPED.items():
        monitor = monitors[monitor_name]
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert {"selector", "endpoints"} <= monitor["spec"].keys()
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == [port]
        assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
        selector = monitor["spec"]["selector"]["matchLabels"]
        job_label = monitor["spec"]["jobLabel"]
        selected = {
            name: svc
            for name, svc in by_kind(docs, "Service").items()
            if selector.items() <= svc["metadata"]["labels"].items()
        }
        assert selected.keys() == expected, monitor_name
        for name, svc in selected.items():
            scraped_by.setdefault(name, []).append(monitor_name)
            # The alert rules select job="<service name>".
            assert svc["metadata"]["labels"][job_label] == name
            assert port in {p["name"] for p in svc["spec"]["ports"]}, name
    assert scraped_by == {name: scraped_by[name][:1] for name in WORKLOADS}


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
                assert f'grpc_service="{SERVICES[service][2]}"' in selector, f"{name}: {selector}"
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


# The wave execution, `devmatrix run` pipeline and retention alerts of the orchestrator, on top of
# REQUIRED_ALERTS: name -> (`for`, severity).
ORCHESTRATOR_EXECUTION_ALERTS = {
    "OrchestratorTaskFailureRateHigh": ("10m", "critical"),
    "OrchestratorReviewBacklog": ("30m", "warning"),
    "OrchestratorRetriesExhausted": (None, "warning"),
    "OrchestratorExecutionCostHigh": (None, "warning"),
    "OrchestratorExecutionCostOverBudget": (None, "critical"),
    "OrchestratorPipelineValidationFailing": (None, "warning"),
    "OrchestratorPipelineHealthChecksFailing": (None, "warning"),
    "OrchestratorPipelineComplianceLow": (None, "warning"),
    "OrchestratorRetentionErrors": (None, "warning"),
    "OrchestratorRetentionNotSucceeding": (None, "warning"),
}
ORCHESTRATOR_LOOSENED_THRESHOLDS = [
    ("orchestrator", "OrchestratorTaskFailureRateHigh", ") > 0.2", ") > 0.3"),
    ("orchestrator", "OrchestratorTaskFailureRateHigh", ") >= 10", ") >= 1"),
    ("orchestrator", "OrchestratorReviewBacklog", ") > 20", ") > 30"),
    ("orchestrator", "OrchestratorReviewBacklog", "max by (job)", "sum by (job)"),
    ("orchestrator", "OrchestratorRetriesExhausted", ") > 3", ") > 6"),
    ("orchestrator", "OrchestratorExecutionCostHigh", ") > 50", ") > 100"),
    ("orchestrator", "OrchestratorExecutionCostOverBudget", ") > 200", ") > 400"),
    ("orchestrator", "OrchestratorPipelineValidationFailing", ") > 0.5", ") > 0.7"),
    ("orchestrator", "OrchestratorPipelineValidationFailing", ") >= 2", ") >= 1"),
    ("orchestrator", "OrchestratorPipelineHealthChecksFailing", ") > 0.5", ") > 0.7"),
    ("orchestrator", "OrchestratorPipelineHealthChecksFailing", ") >= 2", ") >= 1"),
    ("orchestrator", "OrchestratorPipelineComplianceLow", ") < 0.8", ") < 0.7"),
    ("orchestrator", "OrchestratorPipelineComplianceLow", ") >= 3", ") >= 1"),
    # The retention windows: an error or a success counts for 26h, first runs included.
    ("orchestrator", "OrchestratorRetentionErrors", "offset 26h", "offset 1h"),
    ("orchestrator", "OrchestratorRetentionNotSucceeding", "[26h]", "[1h]"),
]


def test_orchestrator_execution_pipeline_and_retention_alerts():
    alerts = alerts_by_name("orchestrator")
    assert alerts.keys() >= ORCHESTRATOR_EXECUTION_ALERTS.keys()
    for name, (for_, severity) in ORCHESTRATOR_EXECUTION_ALERTS.items():
        assert alerts[name].get("for") == for_, name
        assert alerts[name]["labels"]["severity"] == severity, name
    # The dependency cycle alert stays.
    assert "OrchestratorDependencyCyclesRejected" in alerts


def promtool_test_alert(directory, service: str, groups: list, alert: str):
    """promtool test rules on the unit tests that check `alert` only (the long-window ones
    evaluate every rule each minute for a day or more: running them all per case is slow)."""
    suite = yaml.safe_load(alert_tests(service).read_text())
    suite["tests"] = [
        case for case in suite["tests"] if any(c["alertname"] == alert for c in case["alert_rule_test"])
    ]
    assert suite["tests"], f"no unit test checks {alert}"
    write_rules_file(directory, groups, service)
    (directory / alert_tests(service).name).write_text(yaml.safe_dump(suite, sort_keys=False))
    return run([promtool(), "test", "rules", alert_tests(service).name], cwd=directory)


@pytest.mark.parametrize(
    ("service", "alert", "threshold", "loosened"), [*LOOSENED_THRESHOLDS, *ORCHESTRATOR_LOOSENED_THRESHOLDS]
)
def test_alert_unit_tests_fail_when_a_threshold_is_wrong(tmp_path, service, alert, threshold, loosened):
    """The unit tests pin the thresholds: loosening one breaks them."""
    groups = rule_groups(service)
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == alert)
    assert rule["expr"].count(threshold) == 1, rule["expr"]
    rule["expr"] = rule["expr"].replace(threshold, loosened)
    proc = promtool_test_alert(tmp_path, service, groups, alert)
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
    assert rule_files == test_files == set(ALERTED_SERVICES) == set(WORKLOADS)
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
    package = ROOT / "gateway" if service == GATEWAY else ROOT / "services" / service
    files = [*package.rglob("*.py"), *(ROOT / "devmatrix").rglob("*.py")]
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


def grafana_dashboard() -> dict:
    docs = render("base")
    dashboards = [
        d
        for d in by_kind(docs, "ConfigMap").values()
        if d["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    assert len(dashboards) == 1
    (content,) = dashboards[0]["data"].values()
    return json.loads(content)


def dashboard_exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_grafana_dashboard_queries_parse(tmp_path):
    dashboard = grafana_dashboard()
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "duplicate panel ids"
    assert all(p["targets"] for p in panels if p["type"] != "row")
    exprs = dashboard_exprs(dashboard)
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


def test_grafana_dashboard_layout():
    """Grafana accepts the JSON: a schema version, unique ids, and panels on the 24-column grid
    that do not overlap."""
    dashboard = grafana_dashboard()
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    taken: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        assert isinstance(panel["id"], int), panel
        assert panel["title"], panel["id"]
        pos = panel["gridPos"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["y"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            assert pos["w"] == 24 and pos["x"] == 0, panel["title"]
        else:
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), panel["title"]
        cells = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        for target in panel.get("targets", []):
            used = set(re.findall(r"\$(\w+)", target["expr"]))
            assert used <= variables, f"{panel['title']}: unknown variables {used - variables}"


# A metric a service declares: prometheus_client's Counter("name", "help", ("label", ...),
# registry=...) and the like; `labels` / `*labels` name a tuple assigned earlier in the file.
DECLARED_METRIC = re.compile(r'\b(Counter|Gauge|Histogram|Summary)\(\s*"(\w+)"(.*?)registry=', re.S)
LABELS_TUPLE = re.compile(r"\blabels = \(([^)]*)\)")
STRING_WORD = re.compile(r'"(\w+)"')
# What in a query is not a metric name: label lists, selectors' matchers, strings.
NOT_METRICS = re.compile(r'\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|\{[^}]*\}|"[^"]*"')
QUERIED_METRIC = re.compile(r"\b(?:devmatrix|grpc)_\w+")
SELECTOR = re.compile(r"\b((?:devmatrix|grpc)_\w+)\{([^}]*)\}")


@functools.cache
def exported_metrics() -> dict[str, frozenset[str]]:
    """The series names (as Prometheus shows them) that some service's code declares, with
    their label names (le for histogram buckets)."""
    packages = ("services", "devmatrix", "gateway")
    files = [path for package in packages for path in (ROOT / package).rglob("*.py")]
    metrics: dict[str, frozenset[str]] = {}
    for path in files:
        if path.name.endswith("_pb2.py"):
            continue
        text = path.read_text()
        shared = {w for t in LABELS_TUPLE.findall(text) for w in STRING_WORD.findall(t)}
        for kind, name, args in DECLARED_METRIC.findall(text):
            labels = set(STRING_WORD.findall(args)) | (shared if re.search(r"\blabels\b", args) else set())
            if kind == "Counter":
                metrics[name.removesuffix("_total") + "_total"] = frozenset(labels)
            elif kind in {"Histogram", "Summary"}:
                metrics[f"{name}_sum"] = metrics[f"{name}_count"] = frozenset(labels)
                if kind == "Histogram":
                    metrics[f"{name}_bucket"] = frozenset(labels | {"le"})
            else:
                metrics[name] = frozenset(labels)
    return metrics


def test_grafana_dashboard_queries_metrics_the_services_export():
    """A panel on a renamed or never-exported metric or label shows "No data" without any error."""
    exported = exported_metrics()
    # The orchestrator's execution and pipeline metrics (the Pipeline row reads them).
    assert {
        "devmatrix_execution_retries_exhausted_total",
        "devmatrix_pipeline_runs_total",
        "devmatrix_pipeline_validation_total",
        "devmatrix_pipeline_compliance_bucket",
        "devmatrix_pipeline_health_checks_total",
        "devmatrix_pipeline_reuse_rate",
    } <= exported.keys(), "not (yet) declared in services/orchestrator"
    assert exported["devmatrix_pipeline_validation_total"] == {"level", "result"}
    assert exported["grpc_server_handled_total"] == {"grpc_type", "grpc_service", "grpc_method", "grpc_code"}
    for panel in grafana_dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            metrics = QUERIED_METRIC.findall(NOT_METRICS.sub(" ", expr))
            assert metrics, f"{panel['title']}: no metric in {expr}"
            for metric in metrics:
                assert metric in exported, f"{panel['title']}: no service exports {metric}"
            for metric, matchers in SELECTOR.findall(expr):
                unknown = set(MATCHER_LABEL.findall(matchers)) - exported[metric] - SCRAPE_LABELS
                assert not unknown, f"{panel['title']}: {metric} has no label {unknown}"
            grouped = {label.strip() for group in GROUPING.findall(expr) for label in group.split(",")}
            known = set().union(*(exported[m] for m in metrics)) | SCRAPE_LABELS | {""}
            assert grouped <= known, f"{panel['title']}: grouped by unknown labels {grouped - known}"


def test_grafana_dashboard_pipeline_and_services_rows():
    panels = grafana_dashboard()["panels"]
    rows = [p for p in panels if p["type"] == "row"]
    titles = [r["title"] for r in rows]
    assert {"Pipeline", "Services (RED)"} <= set(titles)

    def row_panels(title: str) -> list[dict]:
        top = next(r["gridPos"]["y"] for r in rows if r["title"] == title)
        below = [r["gridPos"]["y"] for r in rows if r["gridPos"]["y"] > top]
        bottom = min(below, default=10**6)
        return [p for p in panels if p["type"] != "row" and top < p["gridPos"]["y"] < bottom]

    pipeline = " ".join(t["expr"] for p in row_panels("Pipeline") for t in p["targets"])
    for metric in (
        "devmatrix_execution_waves_executed_total",
        "devmatrix_execution_tasks_total",
        "devmatrix_execution_parallelism",
        "devmatrix_execution_retries_total",
        "devmatrix_execution_retries_exhausted_total",
        "devmatrix_review_queue_size",
        "devmatrix_execution_wave_seconds_bucket",
        "devmatrix_pipeline_validation_total",
        "devmatrix_pipeline_compliance_bucket",
        "devmatrix_pipeline_health_checks_total",
        "devmatrix_pipeline_reuse_rate",
        "devmatrix_execution_cost_usd_total",
    ):
        assert metric in pipeline, metric
    assert "histogram_quantile(0.5, sum by (le) (rate(devmatrix_execution_wave_seconds_bucket" in pipeline
    assert "histogram_quantile(0.95, sum by (le) (rate(devmatrix_execution_wave_seconds_bucket" in pipeline
    assert "by (level)" in pipeline

    # Request rate, server error ratio and p99 latency of every service, on its own gRPC
    # services (the health checks of the kubelet would swamp the request rate).
    red = row_panels("Services (RED)")
    for service in SERVICES:
        exprs = [t["expr"] for p in red for t in p["targets"] if f'job="{service}"' in t["expr"]]
        assert all('grpc_service=~"devmatrix[.]v1[.].+"' in e for e in exprs), service
        assert any(e.startswith("sum(rate(grpc_server_handled_total{") for e in exprs), service
        assert any("grpc_code=~" in e and " / " in e for e in exprs), service
        assert any(
            e.startswith("histogram_quantile(0.99,") and "grpc_server_handling_seconds_bucket" in e
            for e in exprs
        ), service
