"""Checks of the golden pattern library *data* (not of the loader).

Every file under services/patterns/library/<category>/<name>.yaml must be well formed,
and the code in it must be real: Python compiles and lints clean, the Python patterns
import-resolve against each other (so they compose into one project), TOML/YAML parse,
Dockerfiles start with FROM, and a few security and modelling rules hold.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.patterns.domain import CATEGORIES, LIBRARY_LANGUAGES
from services.patterns.library import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "services" / "patterns" / "library"

# The format is the loader's: the data is checked against the same definitions.
KEYS = REQUIRED
LANGUAGES = LIBRARY_LANGUAGES
UNIT_KEYS = ("success_rate", "test_coverage", "security_level", "observability")
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Same limits the pattern service enforces on stored patterns.
FRAMEWORK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+#/ -]*$")
MAX_FRAMEWORK, MAX_DESCRIPTION, MAX_CODE, MAX_TAGS, MAX_TAG = 50, 4000, 100_000, 32, 50
PATH_COMMENT_RE = re.compile(r"^#+\s*(\S+)\s*$")
READY_THRESHOLD = 0.80
FIRST_PARTY = ("app", "tests")

# The 26 patterns of the production pattern library spec (seed 004), kebab-cased.
SEED_PATTERNS = {
    "pydantic-settings-config": "config",
    "sqlalchemy-async-engine": "database",
    "alembic-setup": "database",
    "structlog-setup": "observability",
    "health-checks": "observability",
    "prometheus-metrics": "observability",
    "request-id-middleware": "observability",
    "strict-mode-schemas": "models",
    "timezone-aware-datetimes": "models",
    "async-declarative-base": "models",
    "generic-repository": "repositories",
    "fastapi-crud-endpoints": "api",
    "dependency-injection": "api",
    "html-sanitization": "security",
    "rate-limiting": "security",
    "security-headers": "security",
    "cors-config": "security",
    "pytest-config": "testing",
    "async-fixtures": "testing",
    "test-factories": "testing",
    "multistage-dockerfile": "docker",
    "docker-compose-full-stack": "docker",
    "pyproject-toml": "project",
    "env-example": "project",
    "gitignore": "project",
    "makefile": "project",
}


def _load() -> dict[Path, Any]:
    return {
        path: yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(LIBRARY.rglob("*.yaml"))
    }


FILES = _load()
PATTERNS: dict[str, dict[str, Any]] = {
    data["name"]: data for data in FILES.values() if isinstance(data, dict) and "name" in data
}


def _rel(path: Path) -> str:
    return str(path.relative_to(LIBRARY))


def _of_language(language: str) -> list[Any]:
    return [
        pytest.param(data, id=name) for name, data in PATTERNS.items() if data.get("language") == language
    ]


def _declared_path(data: dict[str, Any]) -> str:
    first_line = data["code"].splitlines()[0]
    match = PATH_COMMENT_RE.match(first_line)
    assert match, f"{data['name']}: first line must be a comment naming the file path, got {first_line!r}"
    return match.group(1)


def production_score(data: dict[str, Any]) -> float:
    return (
        0.4 * data["success_rate"]
        + 0.3 * data["test_coverage"]
        + 0.2 * data["security_level"]
        + 0.1 * data["observability"]
    )


# --- structure of the files ------------------------------------------------------------


def test_library_has_at_least_26_patterns_in_all_12_categories() -> None:
    assert len(FILES) >= 26
    used = {path.parent.name for path in FILES}
    assert used == set(CATEGORIES), f"missing: {set(CATEGORIES) - used}, unexpected: {used - set(CATEGORIES)}"


def test_library_contains_only_yaml_files_one_level_below_a_category() -> None:
    for path in LIBRARY.rglob("*"):
        if path.is_file():
            rel = path.relative_to(LIBRARY)
            assert path.suffix == ".yaml", f"unexpected file {rel}"
            assert len(rel.parts) == 2, f"{rel}: expected <category>/<name>.yaml"


@pytest.mark.parametrize("path", list(FILES), ids=_rel)
def test_file_has_exactly_the_schema(path: Path) -> None:
    data = FILES[path]
    assert isinstance(data, dict), "file must hold one YAML mapping"
    assert list(data) == list(KEYS), f"keys must be exactly (in order) {KEYS}"

    for key in ("name", "category", "language", "framework", "description", "code"):
        assert isinstance(data[key], str) and data[key].strip(), f"{key} must be a non-empty string"
    assert NAME_RE.match(data["name"]), "name must be kebab-case"
    assert data["name"] == path.stem, "name must equal the file name"
    assert data["category"] == path.parent.name, "category must equal the folder"
    assert data["category"] in CATEGORIES
    assert data["language"] in LANGUAGES
    assert len(data["framework"]) <= MAX_FRAMEWORK and FRAMEWORK_RE.match(data["framework"])
    assert len(data["description"]) <= MAX_DESCRIPTION and "\n" not in data["description"].strip()
    assert len(data["code"]) <= MAX_CODE and data["code"].endswith("\n")

    tags = data["tags"]
    assert isinstance(tags, list) and 1 <= len(tags) <= MAX_TAGS
    assert all(isinstance(tag, str) and tag.strip() and len(tag) <= MAX_TAG for tag in tags)
    assert len(set(tags)) == len(tags), "duplicate tags"

    for key in UNIT_KEYS:
        value = data[key]
        assert isinstance(value, float | int) and not isinstance(value, bool), f"{key} must be a number"
        assert not math.isnan(value) and 0 <= value <= 1, f"{key} must be within 0..1"
    assert isinstance(data["docker_ready"], bool)


def test_names_and_declared_paths_are_unique() -> None:
    names = Counter(data["name"] for data in FILES.values())
    assert not [name for name, count in names.items() if count > 1]
    paths = Counter(_declared_path(data) for data in FILES.values())
    assert not [path for path, count in paths.items() if count > 1]


def test_seed_patterns_are_present_in_their_categories() -> None:
    for name, category in SEED_PATTERNS.items():
        assert name in PATTERNS, f"seed pattern {name} is missing"
        assert PATTERNS[name]["category"] == category, name


def test_production_threshold_separates_the_library() -> None:
    scores = {name: production_score(data) for name, data in PATTERNS.items()}
    below = sorted(name for name, score in scores.items() if score < READY_THRESHOLD)
    assert 2 <= len(below) <= 4, f"expected a few not-yet-ready patterns, got {below}"
    assert len({round(score, 3) for score in scores.values()}) >= 10, "metadata should vary"
    # Security patterns guard everything else: they must all be production ready.
    for name, data in PATTERNS.items():
        if data["category"] == "security":
            assert scores[name] >= READY_THRESHOLD and data["security_level"] >= 0.9, name


@pytest.mark.parametrize("data", list(PATTERNS.values()), ids=list(PATTERNS))
def test_declared_path_matches_language(data: dict[str, Any]) -> None:
    path = _declared_path(data)
    file_name = path.rsplit("/", 1)[-1]
    expected = {
        "python": lambda: path.endswith(".py"),
        "dockerfile": lambda: file_name == "Dockerfile" or file_name.endswith(".Dockerfile"),
        "toml": lambda: path.endswith(".toml"),
        "yaml": lambda: path.endswith((".yml", ".yaml")),
        "text": lambda: not path.endswith((".py", ".toml", ".yml", ".yaml")),
    }[data["language"]]
    assert expected(), f"{data['name']}: {path} does not fit language {data['language']}"


# --- python patterns -------------------------------------------------------------------

PYTHON = _of_language("python")


@pytest.mark.parametrize("data", PYTHON)
def test_python_code_compiles(data: dict[str, Any]) -> None:
    compile(data["code"], _declared_path(data), "exec")


@pytest.fixture(scope="module")
def ruff_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run ruff once over every Python pattern written to its own temp file."""
    directory = tmp_path_factory.mktemp("patterns")
    for name, data in PATTERNS.items():
        if data["language"] == "python":
            (directory / f"{name.replace('-', '_')}.py").write_text(data["code"], encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--target-version",
            "py311",
            "--select",
            "E,F,B",
            "--ignore",
            "E501",
            "--output-format",
            "concise",
            str(directory),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), f"ruff failed to run: {result.stderr}"
    findings: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        file_part = line.split(":", 1)[0]
        if file_part.endswith(".py"):
            findings.setdefault(Path(file_part).stem, []).append(line)
    return findings


@pytest.mark.parametrize("data", PYTHON)
def test_python_code_passes_ruff(data: dict[str, Any], ruff_findings: dict[str, list[str]]) -> None:
    assert ruff_findings.get(data["name"].replace("-", "_"), []) == []


def _module_of(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module defines at import time (including inside top-level if/try blocks)."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return names


def _python_modules() -> dict[str, tuple[str, ast.Module]]:
    modules = {}
    for name, data in PATTERNS.items():
        if data["language"] == "python":
            modules[_module_of(_declared_path(data))] = (name, ast.parse(data["code"]))
    return modules


def _first_party_imports(tree: ast.Module) -> Iterator[tuple[str, str | None, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"line {node.lineno}: use absolute imports"
            module = node.module or ""
            if module.split(".")[0] in FIRST_PARTY:
                for alias in node.names:
                    yield module, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FIRST_PARTY:
                    yield alias.name, None, node.lineno


def test_python_patterns_import_resolve_against_each_other() -> None:
    modules = _python_modules()
    defined = {module: _top_level_names(tree) for module, (_, tree) in modules.items()}
    problems = []
    for module, (name, tree) in modules.items():
        for imported, symbol, line in _first_party_imports(tree):
            if symbol is None:
                if imported not in modules:
                    problems.append(f"{name}:{line}: import {imported} - no pattern declares it")
            elif imported in modules and symbol in defined[imported]:
                continue
            elif f"{imported}.{symbol}" in modules:
                continue  # `from package import submodule`
            elif imported not in modules:
                problems.append(
                    f"{name}:{line}: from {imported} import {symbol} - no pattern declares {imported}"
                )
            else:
                problems.append(
                    f"{name}:{line}: {imported} (from {modules[imported][0]}) does not define {symbol}"
                )
        assert module, name
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("data", PYTHON)
def test_python_code_has_no_placeholders_or_bare_excepts(data: dict[str, Any]) -> None:
    tree = ast.parse(data["code"])
    for node in ast.walk(tree):
        assert not (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and node.value.value is Ellipsis
        ), f"line {node.lineno}: `...` placeholder"
        if isinstance(node, ast.ExceptHandler):
            assert node.type is not None, f"line {node.lineno}: bare except"
    assert not re.search(r"\b(TODO|FIXME|XXX)\b", data["code"]), "unfinished code marker"
    assert ast.get_docstring(tree), "modules start with a docstring that says why"


SECRET_NAME_RE = re.compile(r"(^|_)(secret|password|passwd|api_key|secret_key|private_key)(_|$)", re.I)


@pytest.mark.parametrize("data", PYTHON)
def test_no_hard_coded_secrets_or_formatted_sql(data: dict[str, Any]) -> None:
    tree = ast.parse(data["code"])
    for node in ast.walk(tree):
        # Secrets: application code never assigns a literal to a secret-looking name.
        if data["category"] != "testing" and isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            for target in targets:
                if isinstance(target, ast.Name) and SECRET_NAME_RE.search(target.id):
                    assert not (isinstance(value, ast.Constant) and isinstance(value.value, str)), (
                        f"line {node.lineno}: hard-coded secret in {target.id}"
                    )
        # SQL: text()/execute() only take constant strings; values go in bound parameters.
        if isinstance(node, ast.Call):
            func = node.func
            func_name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if func_name in {"text", "execute", "exec_driver_sql"} and node.args:
                assert not isinstance(node.args[0], ast.JoinedStr | ast.BinOp), (
                    f"line {node.lineno}: SQL built with string formatting"
                )


def _models() -> Iterator[tuple[str, ast.ClassDef]]:
    for name, data in PATTERNS.items():
        if data["language"] == "python" and data["category"] == "models":
            for node in ast.walk(ast.parse(data["code"])):
                if isinstance(node, ast.ClassDef):
                    yield name, node


def test_models_have_timestamps_and_indexed_foreign_keys() -> None:
    tables = 0
    for pattern, cls in _models():
        assigned = {
            target.id
            for stmt in cls.body
            for target in (stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)])
            if isinstance(target, ast.Name)
        }
        if "__tablename__" not in assigned:
            continue
        tables += 1
        bases = {base.id for base in cls.bases if isinstance(base, ast.Name)}
        assert "TimestampMixin" in bases or {"created_at", "updated_at"} <= assigned, (
            f"{pattern}: {cls.name} needs created_at/updated_at"
        )
        for call in ast.walk(cls):
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "mapped_column":
                has_fk = any(
                    isinstance(arg, ast.Call) and getattr(arg.func, "id", "") == "ForeignKey"
                    for arg in call.args
                )
                indexed = any(
                    kw.arg == "index" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                    for kw in call.keywords
                )
                assert not has_fk or indexed, f"{pattern}: {cls.name} has a foreign key without index=True"
    assert tables >= 2, "expected at least two mapped tables in the models category"


# --- other languages -------------------------------------------------------------------


@pytest.mark.parametrize("data", _of_language("toml"))
def test_toml_patterns_parse(data: dict[str, Any]) -> None:
    parsed = tomllib.loads(data["code"])
    assert parsed, "empty TOML document"


@pytest.mark.parametrize("data", _of_language("yaml"))
def test_yaml_patterns_parse(data: dict[str, Any]) -> None:
    parsed = yaml.safe_load(data["code"])
    assert isinstance(parsed, dict) and parsed, "expected a non-empty YAML mapping"


@pytest.mark.parametrize("data", _of_language("dockerfile"))
def test_dockerfiles_start_with_from(data: dict[str, Any]) -> None:
    instructions = [
        line.strip()
        for line in data["code"].splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert instructions and re.match(r"^FROM\s+\S+", instructions[0]), "first instruction must be FROM"
    for line in instructions:
        if line.startswith("FROM "):
            image = line.split()[1]
            assert ":" in image and not image.endswith(":latest"), f"pin the base image tag: {line}"
    assert any(line.startswith("USER ") for line in instructions), "run as a non-root USER"


def test_compose_services_reference_no_literal_secrets() -> None:
    compose = yaml.safe_load(PATTERNS["docker-compose-full-stack"]["code"])
    for service, spec in compose["services"].items():
        for key, value in (spec.get("environment") or {}).items():
            if SECRET_NAME_RE.search(key):
                assert "${" in str(value), f"{service}.{key} must come from the environment"


def test_example_env_leaves_secrets_empty_or_placeholder() -> None:
    for line in PATTERNS["env-example"]["code"].splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            if key.endswith("JWT_SECRET_KEY"):
                assert value == "", "the example must not ship a usable signing key"
