"""The Python and SQL checks. Importing a module registers its checks; `source` holds the
shared parsing (AST, ruff) and the others one or two skills each."""

from services.skills.checks.python import (
    api,
    commenting,
    conventions,
    errors,
    migrations,
    models,
    queries,
    sql,
    stack,
    style,
    testing,
)

__all__ = [
    "api",
    "commenting",
    "conventions",
    "errors",
    "migrations",
    "models",
    "queries",
    "sql",
    "stack",
    "style",
    "testing",
]
