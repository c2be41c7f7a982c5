"""The gateway's alerts and dashboard row against the routes the gateway declares."""

from __future__ import annotations

import functools
import re

from tests.deploy.support import (
    GATEWAY,
    ROOT,
    alerts_by_name,
)
from tests.deploy.test_monitoring import grafana_dashboard

# A route the gateway declares: @router.get("/api/...", ...) in gateway/routes/.
DECLARED_ROUTE = re.compile(r'@router\.(?:get|post|put|patch|delete)\(\s*"([^"]+)"')
EXCLUDED_ROUTES = re.compile(r'route!~"([^"]+)"')
# What the gateway alerts and the dashboard leave out: probes and scrapes (not API traffic),
# the event stream and task executions (long by design, latency only).
NOT_API = {"/health/live", "/health/ready", "/metrics"}
LONG_LIVED = {"/api/specs/{spec_id}/events", "/api/tasks/{task_id}/execute"}


@functools.cache
def gateway_routes() -> frozenset[str]:
    routes = frozenset(
        route
        for path in (ROOT / "gateway" / "routes").glob("*.py")
        for route in DECLARED_ROUTE.findall(path.read_text())
    )
    assert routes >= NOT_API | LONG_LIVED, "renamed in gateway/routes/"
    return routes


def excluded(expr: str) -> set[str]:
    """The gateway routes the route!~ matchers of a query leave out (the same in every selector)."""
    patterns = set(EXCLUDED_ROUTES.findall(expr))
    assert len(patterns) == 1, expr
    (pattern,) = patterns
    for alternative in pattern.split("|"):
        assert any(re.fullmatch(alternative, r) for r in gateway_routes()), f"{alternative} matches no route"
    return {r for r in gateway_routes() if re.fullmatch(pattern, r)}


def test_gateway_alerts_leave_out_probes_scrapes_and_long_lived_routes():
    """A renamed route would silently come back into the ratios: the exclusions must match the
    routes the gateway declares, and only those."""
    alerts = alerts_by_name(GATEWAY)
    assert excluded(alerts["GatewayHighErrorRate"]["expr"]) == NOT_API
    assert excluded(alerts["GatewayHighLatency"]["expr"]) == NOT_API | LONG_LIVED
    assert 'status=~"5.."' in alerts["GatewayHighErrorRate"]["expr"]


def test_gateway_latency_limit_is_a_bucket_bound():
    """The p99 interpolates inside a bucket: a limit on a bucket bound is compared exactly."""
    from devmatrix.runtime.metrics import HANDLING_BUCKETS

    expr = alerts_by_name(GATEWAY)["GatewayHighLatency"]["expr"]
    assert "devmatrix_http_request_seconds_bucket" in expr
    (limit,) = re.findall(r"\) > ([\d.]+)\s*$", expr.strip())
    assert float(limit) in HANDLING_BUCKETS


def test_grafana_dashboard_gateway_row():
    """Request rate, 5xx ratio and p99 latency of the gateway's API routes, as its alerts see them."""
    panels = grafana_dashboard()["panels"]
    rows = sorted((p for p in panels if p["type"] == "row"), key=lambda r: r["gridPos"]["y"])
    top = next(r["gridPos"]["y"] for r in rows if r["title"] == "Gateway (HTTP RED)")
    bottom = min((r["gridPos"]["y"] for r in rows if r["gridPos"]["y"] > top), default=10**6)
    exprs = [
        t["expr"]
        for p in panels
        if p["type"] != "row" and top < p["gridPos"]["y"] < bottom
        for t in p["targets"]
    ]
    assert exprs and all('job="gateway"' in e for e in exprs)
    assert any(e.startswith("sum(rate(devmatrix_http_requests_total{") for e in exprs)
    ratio = [e for e in exprs if 'status=~"5.."' in e and " / " in e]
    assert ratio and all(excluded(e) == NOT_API for e in ratio)
    p99 = [
        e
        for e in exprs
        if e.startswith("histogram_quantile(0.99,") and "devmatrix_http_request_seconds_bucket" in e
    ]
    assert p99 and all(excluded(e) == NOT_API | LONG_LIVED for e in p99)
    assert any("devmatrix_http_requests_in_flight" in e for e in exprs)
