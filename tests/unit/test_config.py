"""Configuration from the environment: defaults, overrides and clear errors."""

from __future__ import annotations

import pytest

from devmatrix.runtime.config import ConfigError, Settings


def test_defaults_select_embedded_backends() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.neo4j_uri is None
    assert settings.qdrant_url is None and settings.redis_url is None and settings.embedding_model is None
    assert settings.context_cache_ttl_seconds == 600.0 and settings.pattern_vector_weight == 0.7
    assert settings.db_pool_size == 10
    assert settings.ports == {
        "orchestrator": 50051,
        "context": 50052,
        "codegen": 50053,
        "patterns": 50054,
        "skills": 50055,
    }
    assert settings.metrics_ports["skills"] == 9105
    assert settings.addr("context") == "127.0.0.1:50052"


def test_overrides() -> None:
    settings = Settings.from_env(
        {
            "ORCHESTRATOR_PORT": "6000",
            "DB_POOL_SIZE": "3",
            "DATABASE_URL": "postgresql://u:p@db:5432/x",
            "NEO4J_URI": "bolt://neo4j:7687",
            "CONTEXT_ADDR": "context:50052",
            "LOG_LEVEL": "debug",
            "GRPC_DEADLINE_SECONDS": "2.5",
        }
    )
    assert settings.ports["orchestrator"] == 6000
    assert settings.db_pool_size == 3
    assert settings.neo4j_uri == "bolt://neo4j:7687"
    assert settings.addr("context") == "context:50052"
    assert settings.log_level == "DEBUG"
    assert settings.grpc_deadline_seconds == 2.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORCHESTRATOR_PORT": "abc"}, "ORCHESTRATOR_PORT='abc' is not an integer"),
        ({"SKILLS_PORT": "70000"}, "SKILLS_PORT=70000 is out of range 1..65535"),
        ({"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE=0 is out of range 1..200"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL='mysql://x' must start with one of postgresql://"),
        ({"NEO4J_URI": "http://neo4j"}, "NEO4J_URI='http://neo4j' must start with one of bolt://"),
        ({"CONTEXT_ADDR": "nohostport"}, "CONTEXT_ADDR='nohostport' must be HOST:PORT"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' must be one of DEBUG"),
        ({"GRPC_DEADLINE_SECONDS": "-1"}, "GRPC_DEADLINE_SECONDS=-1.0 is out of range"),
        ({"QDRANT_URL": "qdrant:6333"}, "QDRANT_URL='qdrant:6333' must start with one of http://"),
        ({"REDIS_URL": "http://redis"}, "REDIS_URL='http://redis' must start with one of redis://"),
        ({"PATTERN_VECTOR_WEIGHT": "1.5"}, "PATTERN_VECTOR_WEIGHT=1.5 is out of range 0..1"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert str(raised.value).startswith(message)
