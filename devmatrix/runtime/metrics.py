"""Prometheus metrics: go-grpc-prometheus server metrics plus per-service domain metrics.

Each server gets its own registry so that several servers in one process (the
in-process mesh of the CLI) still expose only their own series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

# go-grpc-prometheus default buckets, so stock dashboards line up.
HANDLING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        labels = ("grpc_type", "grpc_service", "grpc_method")
        self.started = Counter(
            "grpc_server_started_total",
            "Total number of RPCs started on the server.",
            labels,
            registry=registry,
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            (*labels, "grpc_code"),
            registry=registry,
        )
        self.msg_received = Counter(
            "grpc_server_msg_received_total",
            "Total number of RPC stream messages received on the server.",
            labels,
            registry=registry,
        )
        self.msg_sent = Counter(
            "grpc_server_msg_sent_total",
            "Total number of gRPC stream messages sent by the server.",
            labels,
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
            labels,
            buckets=HANDLING_BUCKETS,
            registry=registry,
        )


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> tuple[object, int]:
    """Serve /metrics in a daemon thread; returns the HTTP server and its bound port."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server, server.server_address[1]
