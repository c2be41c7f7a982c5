pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.neo4j",
    "tests.fixtures.mesh",
    "tests.fixtures.redis",
    "tests.fixtures.anthropic_server",
]
