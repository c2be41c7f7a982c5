"""HTTP RED metrics of the gateway, on its own registry (several apps in one process,
as in the tests, keep their own series), served at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from devmatrix.runtime.metrics import HANDLING_BUCKETS


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "devmatrix_http_requests_total",
            "HTTP requests answered by the gateway, by route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.seconds = Histogram(
            "devmatrix_http_request_seconds",
            "Time to answer an HTTP request (an event stream: its whole life).",
            ("method", "route"),
            buckets=HANDLING_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "devmatrix_http_requests_in_flight",
            "HTTP requests (and open event streams) being answered.",
            ("method",),
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.seconds.labels(method, route).observe(seconds)
