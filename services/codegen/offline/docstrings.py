"""Docstrings the golden modules lack for public names, added on composition.

The catalogue asks every public module, class and function for a docstring; a few
golden modules predate that rule. The text says what each name is for, so it is
added here, per generated path, rather than guessed from the code.
"""

from __future__ import annotations

import ast

from services.codegen.offline.files import ProjectFile
from services.codegen.offline.golden import GoldenPatternChanged

MISSING_DOCSTRINGS: dict[str, dict[str, str]] = {
    "app/core/exceptions.py": {
        "NotFoundError": "404: the requested resource does not exist.",
        "ConflictError": "409: the change conflicts with existing data (a unique value, a reference).",
        "AuthenticationError": "401: credentials are missing or invalid.",
        "PermissionDeniedError": "403: the caller may not perform this action.",
        "RateLimitedError": "429: too many requests; carries the seconds to wait.",
    },
    "app/core/rate_limit.py": {
        "client_ip_key": "The peer IP address: the default rate limit key.",
        "RateLimitMiddleware": "Answer 429 with Retry-After once a client's token bucket is empty.",
    },
    "app/core/security_headers.py": {
        "SecurityHeadersMiddleware": "Add the security headers to every HTTP response.",
    },
    "app/db.py": {
        "get_sessionmaker": "The process-wide session factory; sessions keep objects readable after commit.",
    },
    "app/errors.py": {
        "app_error_handler": "An AppError as problem+json with its own status and code.",
        "validation_error_handler": "Request validation errors as a 422 listing every invalid field.",
        "http_exception_handler": "Starlette HTTP errors (unknown path, wrong method) as problem+json.",
        "unhandled_exception_handler": "Anything unexpected: logged with its traceback, answered with a bare 500.",
    },
    "app/main.py": {
        "lifespan": "Log start-up, and dispose of the database engine on shutdown.",
        "create_app": "Build the application: logging, error handlers, routers and middleware.",
    },
    "app/routes/health.py": {
        "CheckResult": "Outcome and duration of one readiness check.",
        "HealthResponse": "Body of the probes.",
    },
    "app/schemas/base.py": {
        "StrictInput": "Base of request bodies: strict types, unknown fields rejected, text trimmed.",
        "ReadModel": "Base of responses built from ORM objects.",
        "TimestampedRead": "A response with timezone-aware created_at and updated_at.",
        "Page": "One page of a list endpoint: the items, the total and the window asked for.",
    },
    "app/services/base.py": {
        "BaseService": "Base of the services: a session, a bound logger and the unit of work.",
    },
    "migrations/env.py": {
        "run_migrations_online": "Run the migrations on a one-off async engine built from the settings.",
    },
}


def _definitions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.setdefault(node.name, node)
    return found


def add_docstrings(file: ProjectFile) -> ProjectFile:
    """`file` with the listed docstrings inserted where the golden code has none."""
    wanted = MISSING_DOCSTRINGS.get(file.path)
    if not wanted:
        return file
    definitions = _definitions(ast.parse(file.content))
    lines = file.content.split("\n")
    inserts: list[tuple[int, str]] = []
    for name, text in wanted.items():
        node = definitions.get(name)
        if node is None:
            raise GoldenPatternChanged(f"{file.path} no longer defines {name}")
        if ast.get_docstring(node) is not None:
            continue
        first = node.body[0]
        gap = "\n" if isinstance(node, ast.ClassDef) else ""
        inserts.append((first.lineno - 1, " " * first.col_offset + f'"""{text}"""' + gap))
    for index, line in sorted(inserts, reverse=True):
        # Decorators and comments above the first statement stay where they are.
        while index > 0 and lines[index - 1].strip().startswith(("#", "@")):
            index -= 1
        lines.insert(index, line)
    return ProjectFile(file.path, "\n".join(lines), file.bundle, file.patterns)
