"""global-tech-stack for Python: imports the project's manifest does not declare, naive
datetimes, and APIs the declared stack has deprecated.

The manifest check needs pyproject.toml or requirements*.txt among the files. Those are not
Python, so the check is registered for the languages "toml" and "text" as well and picks
manifests out by file name; without a manifest among the files it reports nothing (there is
nothing to compare with).
"""

from __future__ import annotations

import ast
import contextlib
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any

from services.skills.checks.base import Finding, Severity, SourceFile, check, project_check
from services.skills.checks.python.source import (
    caught_names,
    dotted_name,
    imported_tops,
    imports,
    keyword,
    nodes,
    qualified_name,
    try_parse,
)

SKILL = "global-tech-stack"
PY = ["python"]
MANIFEST_LANGUAGES = ["python", "toml", "text"]

# Import name -> distribution names that provide it, where the two differ beyond case and
# `_`/`-` (which normalisation covers: pydantic_settings is pydantic-settings).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "yaml": ("pyyaml",),
    "jose": ("python-jose",),
    "jwt": ("pyjwt",),
    "dotenv": ("python-dotenv",),
    "multipart": ("python-multipart",),
    "dateutil": ("python-dateutil",),
    "slugify": ("python-slugify",),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "PIL": ("pillow",),
    "bs4": ("beautifulsoup4",),
    "sklearn": ("scikit-learn",),
    "cv2": ("opencv-python", "opencv-python-headless"),
    "attr": ("attrs",),
    "OpenSSL": ("pyopenssl",),
    "Crypto": ("pycryptodome",),
    "nacl": ("pynacl",),
    "argon2": ("argon2-cffi",),
    "zmq": ("pyzmq",),
    "git": ("gitpython",),
    "factory": ("factory-boy",),
    "google": ("protobuf", "google-cloud-core", "googleapis-common-protos"),
    "grpc": ("grpcio",),
    "grpc_health": ("grpcio-health-checking",),
    "grpc_reflection": ("grpcio-reflection",),
    "grpc_status": ("grpcio-status",),
    "magic": ("python-magic",),
    "docx": ("python-docx",),
    "jinja2": ("jinja2",),
    "opentelemetry": ("opentelemetry-api", "opentelemetry-sdk"),
}
# Distributions installed by a declared one: importing them directly works but should be
# declared too, so it is a warning rather than an error.
PROVIDED_BY: dict[str, tuple[str, ...]] = {
    "starlette": ("fastapi",),
    "pydantic": ("fastapi", "pydantic-settings", "sqlmodel"),
    "pydantic-core": ("pydantic",),
    "anyio": ("fastapi", "starlette", "httpx"),
    "sqlalchemy": ("sqlmodel", "alembic"),
    "typing-extensions": ("pydantic", "fastapi", "sqlalchemy"),
    "httpcore": ("httpx",),
    "mako": ("alembic",),
    "jinja2": ("flask",),
    "werkzeug": ("flask",),
    "click": ("typer", "flask", "uvicorn"),
    "greenlet": ("sqlalchemy",),
}
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[([^\]]*)\])?")
# Current spellings of what the stack deprecated: (qualified import or call) -> replacement.
DEPRECATED_IMPORTS = {
    "pydantic.validator": "pydantic.field_validator",
    "pydantic.root_validator": "pydantic.model_validator",
    "sqlalchemy.ext.declarative.declarative_base": "sqlalchemy.orm.DeclarativeBase",
    "pkg_resources": "importlib.metadata / importlib.resources",
}
# Calls returning naive datetimes -> (severity, position of the tz argument that makes the
# result aware; None when no argument can). utcnow() is deprecated as well as naive.
NAIVE_CALLS: dict[str, tuple[Severity, int | None]] = {
    "datetime.datetime.utcnow": (Severity.ERROR, None),
    "datetime.datetime.utcfromtimestamp": (Severity.ERROR, None),
    "datetime.datetime.now": (Severity.WARNING, 0),
    "datetime.datetime.fromtimestamp": (Severity.WARNING, 1),
    "datetime.datetime.today": (Severity.WARNING, None),
}


def normalise(name: str) -> str:
    """PEP 503 normalisation: case and runs of `-`, `_`, `.` do not distinguish projects."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_manifest(source: SourceFile) -> bool:
    """Is the file a pyproject.toml or a requirements*.txt?"""
    return source.name == "pyproject.toml" or (
        source.name.startswith("requirements") and source.name.endswith(".txt")
    )


def declared_distributions(manifests: Iterable[SourceFile]) -> set[str]:
    """Normalised names of every distribution the manifests declare, dev and optional
    groups included."""
    requirements: list[str] = []
    for manifest in manifests:
        if manifest.name == "pyproject.toml":
            # A broken manifest declares nothing that can be compared.
            with contextlib.suppress(tomllib.TOMLDecodeError):
                requirements += pyproject_requirements(tomllib.loads(manifest.content))
        else:
            requirements += [line for line in manifest.lines if not line.strip().startswith(("-", "#"))]
    return requirement_names(requirements)


def requirement_names(requirements: Iterable[str]) -> set[str]:
    """Normalised distribution names of requirement strings, with the extras they ask for
    (`passlib[bcrypt]` brings bcrypt)."""
    declared: set[str] = set()
    for requirement in requirements:
        match = REQUIREMENT_NAME.match(requirement)
        if match:
            declared.add(normalise(match.group(1)))
            declared.update(
                normalise(extra.strip()) for extra in (match.group(3) or "").split(",") if extra.strip()
            )
    return declared


def pyproject_requirements(data: dict[str, Any]) -> list[str]:
    """Every requirement string of a parsed pyproject.toml: PEP 621 dependencies, optional
    dependencies, dependency groups and Poetry's tables."""
    project = data.get("project", {})
    found = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        found += group
    for group in data.get("dependency-groups", {}).values():
        found += [item for item in group if isinstance(item, str)]  # skip {include-group = ...}
    poetry = data.get("tool", {}).get("poetry", {})
    sections = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    sections += [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
    found += [name for section in sections for name in section if name != "python"]
    return [item for item in found if isinstance(item, str)]


def first_party_names(paths: Iterable[str]) -> set[str]:
    """Top-level package and module names of the Python files (under src/ in a src layout):
    an import of one of them is the project's own code. Only the top level counts, since
    absolute imports start there (app/core/redis.py does not shadow `import redis`)."""
    names = set()
    for path in paths:
        parts = PurePosixPath(path).parts
        if path.endswith(".py") and parts:
            parts = parts[1:] if parts[0] == "src" and len(parts) > 1 else parts
            names.add(PurePosixPath(parts[0]).stem)
    return {name for name in names if name.isidentifier()}


def _optional_imports(source: SourceFile) -> set[int]:
    """Lines of imports guarded by `except ImportError`: optional by design."""
    lines: set[int] = set()
    for block in nodes(source, ast.Try):
        if any({"ImportError", "ModuleNotFoundError"} & set(caught_names(h)) for h in block.handlers):
            inside = [n for statement in block.body for n in ast.walk(statement)]
            lines.update(n.lineno for n in inside if isinstance(n, ast.Import | ast.ImportFrom))
    return lines


def _third_party_imports(source: SourceFile, first_party: set[str]) -> Iterator[tuple[str, int]]:
    """(top-level import name, line) of every import that is neither stdlib nor the project's."""
    optional = _optional_imports(source)
    seen: set[str] = set()
    for node in nodes(source, ast.Import, ast.ImportFrom):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.module and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in seen or top in sys.stdlib_module_names or top in first_party or top == "__future__":
                continue
            if node.lineno not in optional:
                seen.add(top)
                yield top, node.lineno


@project_check(SKILL, "undeclared-dependency", MANIFEST_LANGUAGES)
def undeclared_dependency(sources: list[SourceFile]) -> Iterator[Finding]:
    """Third-party imports that pyproject.toml / requirements*.txt do not declare."""
    manifests = [s for s in sources if is_manifest(s)]
    if not manifests:
        return
    declared = declared_distributions(manifests)
    manifest_names = ", ".join(sorted({m.name for m in manifests}))
    python = [s for s in sources if s.language == "python"]
    first_party = first_party_names(s.path for s in python)
    for source in python:
        if try_parse(source) is None:
            continue
        for name, line in _third_party_imports(source, first_party):
            candidates = DISTRIBUTIONS.get(name, (normalise(name),))
            if declared & set(candidates):
                continue
            providers = [p for c in candidates for p in PROVIDED_BY.get(c, ()) if p in declared]
            if providers:
                yield source.finding(
                    SKILL,
                    "undeclared-dependency",
                    line,
                    f"imports {name}{'' if candidates[0] == name else f' ({candidates[0]})'}, "
                    f"which only arrives through {providers[0]}; "
                    f"declare it in {manifest_names}",
                    Severity.WARNING,
                )
            else:
                yield source.finding(
                    SKILL,
                    "undeclared-dependency",
                    line,
                    f"imports {name} but {manifest_names} does not declare {' or '.join(candidates)}",
                )


@check(SKILL, "naive-datetime", PY)
def naive_datetime(source: SourceFile) -> Iterator[Finding]:
    """datetime.utcnow(), and now()/fromtimestamp() without a timezone: naive datetimes."""
    imported = imports(source)
    for call in nodes(source, ast.Call):
        name = qualified_name(call.func, imported)
        if name not in NAIVE_CALLS:
            continue
        severity, tz_position = NAIVE_CALLS[name]
        if tz_position is not None and (len(call.args) > tz_position or keyword(call, "tz") is not None):
            continue  # now(UTC) / fromtimestamp(ts, tz=UTC) are aware
        yield source.finding(
            SKILL,
            "naive-datetime",
            call.lineno,
            f"{'.'.join(name.split('.')[-2:])}() returns a naive datetime; use datetime.now(UTC)",
            severity,
        )


@check(SKILL, "deprecated-api", PY)
def deprecated_api(source: SourceFile) -> Iterator[Finding]:
    """Imports and calls the declared stack has deprecated (pydantic v1 validators, ...)."""
    for node in nodes(source, ast.Import, ast.ImportFrom):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name in DEPRECATED_IMPORTS:
                yield source.finding(
                    SKILL,
                    "deprecated-api",
                    node.lineno,
                    f"{name} is deprecated; use {DEPRECATED_IMPORTS[name]}",
                    Severity.WARNING,
                )
    if "fastapi" not in imported_tops(source):
        return
    for call in nodes(source, ast.Call):
        if dotted_name(call.func).endswith(".on_event"):
            yield source.finding(
                SKILL,
                "deprecated-api",
                call.lineno,
                "FastAPI on_event handlers are deprecated; use a lifespan context manager",
                Severity.WARNING,
            )
