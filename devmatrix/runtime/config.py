"""Configuration from environment variables, validated once at start.

Unset backend URLs select the embedded defaults (pgserver, networkx graph).
A bad value stops the process with one line naming the variable and the problem.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
N = TypeVar("N", int, float)

SERVICE_NAMES: tuple[str, ...] = ("orchestrator", "context", "codegen", "patterns", "skills")
DEFAULT_PORTS: dict[str, int] = {name: 50051 + i for i, name in enumerate(SERVICE_NAMES)}
DEFAULT_METRICS_PORTS: dict[str, int] = {name: 9101 + i for i, name in enumerate(SERVICE_NAMES)}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-6"


class ConfigError(ValueError):
    """A configuration value is missing or malformed."""


def _parse_number(name: str, raw: str, kind: type[N], minimum: N, maximum: N) -> N:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is out of range {minimum}..{maximum}")
    return value


def _parse_int(name: str, raw: str, minimum: int, maximum: int) -> int:
    return _parse_number(name, raw, int, minimum, maximum)


def _parse_float(name: str, raw: str, minimum: float, maximum: float) -> float:
    return _parse_number(name, raw, float, minimum, maximum)


def _parse_addr(name: str, raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"{name}={raw!r} must be HOST:PORT")
    _parse_int(name, port, 1, 65535)
    return raw


def _parse_origins(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated CORS origins: `*` or scheme://host[:port], without a path."""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        scheme, sep, rest = origin.partition("://")
        if origin != "*" and (not sep or scheme not in ("http", "https") or not rest or "/" in rest):
            raise ConfigError(f"{name}: {origin!r} must be * or http(s)://host[:port]")
    return origins


def _parse_url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme not in schemes:
        raise ConfigError(f"{name}={raw!r} must start with one of {', '.join(s + '://' for s in schemes)}")
    return raw


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    bind_host: str = "0.0.0.0"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    metrics_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_METRICS_PORTS))
    # host:port of each service as seen by its clients.
    addrs: dict[str, str] = field(default_factory=dict)
    database_url: str | None = None
    db_pool_size: int = 10
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    qdrant_url: str | None = None
    redis_url: str | None = None
    # A sentence-transformers model name or path; None is the packaged all-MiniLM-L6-v2.
    embedding_model: str | None = None
    # The golden pattern library; None is the one shipped in services/patterns/library.
    pattern_library_dir: Path | None = None
    context_cache_ttl_seconds: float = 600.0
    # Share of vector similarity in the hybrid pattern score (the rest is metadata relevance).
    pattern_vector_weight: float = 0.7
    log_level: str = "INFO"
    grpc_deadline_seconds: float = 10.0
    shutdown_grace_seconds: float = 10.0
    max_message_bytes: int = 8 * 1024 * 1024
    health_poll_seconds: float = 5.0
    # Code generation: the Anthropic generator is used when a key is set, else the offline one.
    anthropic_api_key: str | None = None
    anthropic_model: str = DEFAULT_ANTHROPIC_MODEL
    # Another Messages-API endpoint (a proxy, or the local test server); None is Anthropic's.
    anthropic_base_url: str | None = None
    llm_timeout_seconds: float = 120.0
    llm_max_retries: int = 4
    codegen_max_attempts: int = 3
    # Execution (orchestrator runner): workers per execution by default, the deadline of one
    # GenerateCode call, how long a claimed task stays leased without a heartbeat, the
    # confidence under which a generated task waits for a human, and the attempts a task
    # gets per execution (transient codegen failures are retried with backoff).
    execution_concurrency: int = 5
    task_timeout_seconds: float = 600.0
    lease_seconds: float = 60.0
    review_confidence_threshold: float = 0.6
    task_max_attempts: int = 3
    # First backoff between attempts of a task; doubles each retry (capped at 30 s).
    task_retry_backoff_seconds: float = 1.0
    # Insights: how often the retention job runs (0 disables it) and how long agent logs are kept.
    retention_interval_seconds: float = 3600.0
    agent_log_retention_days: int = 90
    # HTTP gateway: its port (0: `devmatrix up` does not start it), the origins allowed by
    # CORS (none by default), the largest request body, how long POST /api/tasks/{id}/execute
    # waits for the task's wave, and how often an idle event stream sends a keep-alive.
    gateway_port: int = 8080
    gateway_cors_origins: tuple[str, ...] = ()
    gateway_max_body_bytes: int = 4 * 1024 * 1024
    gateway_execute_timeout_seconds: float = 900.0
    gateway_keepalive_seconds: float = 15.0

    def addr(self, service: str) -> str:
        return self.addrs.get(service) or f"127.0.0.1:{self.ports[service]}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, parse: Callable[[str, str], T], default: T) -> T:
            raw = env.get(name, "").strip()
            return parse(name, raw) if raw else default

        ports = {
            s: get(f"{s.upper()}_PORT", lambda n, r: _parse_int(n, r, 1, 65535), DEFAULT_PORTS[s])
            for s in SERVICE_NAMES
        }
        metrics_ports = {
            s: get(
                f"{s.upper()}_METRICS_PORT",
                lambda n, r: _parse_int(n, r, 0, 65535),
                DEFAULT_METRICS_PORTS[s],
            )
            for s in SERVICE_NAMES
        }
        addrs = {s: get(f"{s.upper()}_ADDR", _parse_addr, "") for s in SERVICE_NAMES}

        def log_level(name: str, raw: str) -> str:
            if raw.upper() not in LOG_LEVELS:
                raise ConfigError(f"{name}={raw!r} must be one of {', '.join(LOG_LEVELS)}")
            return raw.upper()

        return cls(
            data_dir=Path(get("DEVMATRIX_DATA_DIR", lambda n, r: r, ".devmatrix")).expanduser().resolve(),
            bind_host=get("BIND_HOST", lambda n, r: r, "0.0.0.0"),
            ports=ports,
            metrics_ports=metrics_ports,
            addrs={s: a for s, a in addrs.items() if a},
            database_url=get("DATABASE_URL", lambda n, r: _parse_url(n, r, ("postgresql", "postgres")), None),
            db_pool_size=get("DB_POOL_SIZE", lambda n, r: _parse_int(n, r, 1, 200), 10),
            neo4j_uri=get(
                "NEO4J_URI",
                lambda n, r: _parse_url(
                    n, r, ("bolt", "neo4j", "bolt+s", "neo4j+s", "bolt+ssc", "neo4j+ssc")
                ),
                None,
            ),
            neo4j_user=get("NEO4J_USER", lambda n, r: r, "neo4j"),
            neo4j_password=env.get("NEO4J_PASSWORD", ""),
            qdrant_url=get("QDRANT_URL", lambda n, r: _parse_url(n, r, ("http", "https")), None),
            redis_url=get("REDIS_URL", lambda n, r: _parse_url(n, r, ("redis", "rediss", "unix")), None),
            embedding_model=get("EMBEDDING_MODEL", lambda n, r: r, None),
            pattern_library_dir=get("PATTERN_LIBRARY_DIR", lambda n, r: Path(r).expanduser().resolve(), None),
            context_cache_ttl_seconds=get(
                "CONTEXT_CACHE_TTL_SECONDS", lambda n, r: _parse_float(n, r, 0, 86400), 600.0
            ),
            pattern_vector_weight=get("PATTERN_VECTOR_WEIGHT", lambda n, r: _parse_float(n, r, 0, 1), 0.7),
            log_level=get("LOG_LEVEL", log_level, "INFO"),
            grpc_deadline_seconds=get(
                "GRPC_DEADLINE_SECONDS", lambda n, r: _parse_float(n, r, 0.05, 3600), 10.0
            ),
            shutdown_grace_seconds=get(
                "SHUTDOWN_GRACE_SECONDS", lambda n, r: _parse_float(n, r, 0, 600), 10.0
            ),
            max_message_bytes=get(
                "MAX_MESSAGE_BYTES", lambda n, r: _parse_int(n, r, 1024, 256 * 1024 * 1024), 8 * 1024 * 1024
            ),
            health_poll_seconds=get("HEALTH_POLL_SECONDS", lambda n, r: _parse_float(n, r, 0.1, 300), 5.0),
            anthropic_api_key=get("ANTHROPIC_API_KEY", lambda n, r: r, None),
            anthropic_model=get("ANTHROPIC_MODEL", lambda n, r: r, DEFAULT_ANTHROPIC_MODEL),
            anthropic_base_url=get(
                "ANTHROPIC_BASE_URL", lambda n, r: _parse_url(n, r, ("http", "https")), None
            ),
            llm_timeout_seconds=get("LLM_TIMEOUT_SECONDS", lambda n, r: _parse_float(n, r, 1, 3600), 120.0),
            llm_max_retries=get("LLM_MAX_RETRIES", lambda n, r: _parse_int(n, r, 0, 10), 4),
            codegen_max_attempts=get("CODEGEN_MAX_ATTEMPTS", lambda n, r: _parse_int(n, r, 1, 10), 3),
            execution_concurrency=get("EXECUTION_CONCURRENCY", lambda n, r: _parse_int(n, r, 1, 256), 5),
            task_timeout_seconds=get(
                "TASK_TIMEOUT_SECONDS", lambda n, r: _parse_float(n, r, 0.1, 86400), 600.0
            ),
            lease_seconds=get("LEASE_SECONDS", lambda n, r: _parse_float(n, r, 0.5, 86400), 60.0),
            review_confidence_threshold=get(
                "REVIEW_CONFIDENCE_THRESHOLD", lambda n, r: _parse_float(n, r, 0, 1), 0.6
            ),
            task_max_attempts=get("TASK_MAX_ATTEMPTS", lambda n, r: _parse_int(n, r, 1, 10), 3),
            task_retry_backoff_seconds=get(
                "TASK_RETRY_BACKOFF_SECONDS", lambda n, r: _parse_float(n, r, 0, 600), 1.0
            ),
            retention_interval_seconds=get(
                "RETENTION_INTERVAL_SECONDS", lambda n, r: _parse_float(n, r, 0, 7 * 86400), 3600.0
            ),
            agent_log_retention_days=get(
                "AGENT_LOG_RETENTION_DAYS", lambda n, r: _parse_int(n, r, 1, 36500), 90
            ),
            gateway_port=get("GATEWAY_PORT", lambda n, r: _parse_int(n, r, 0, 65535), 8080),
            gateway_cors_origins=get("GATEWAY_CORS_ORIGINS", _parse_origins, ()),
            gateway_max_body_bytes=get(
                "GATEWAY_MAX_BODY_BYTES",
                lambda n, r: _parse_int(n, r, 1024, 256 * 1024 * 1024),
                4 * 1024 * 1024,
            ),
            gateway_execute_timeout_seconds=get(
                "GATEWAY_EXECUTE_TIMEOUT_SECONDS", lambda n, r: _parse_float(n, r, 1, 86400), 900.0
            ),
            gateway_keepalive_seconds=get(
                "GATEWAY_KEEPALIVE_SECONDS", lambda n, r: _parse_float(n, r, 0.05, 3600), 15.0
            ),
        )
