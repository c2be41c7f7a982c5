"""testing-test-writing, testing-unit-tests and testing-coverage for Python (pytest and
unittest): every test asserts something specific, is named for the behaviour it proves,
stays off real clocks and the network, and every module with logic has a test importing it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from services.skills.checks.base import Finding, Severity, SourceFile, check, project_check
from services.skills.checks.python.source import (
    FunctionNode,
    call_name,
    dotted_name,
    imported_modules,
    imports,
    nodes,
    parse_module,
    qualified_name,
    string_value,
    try_parse,
    walk_scope,
)

PY = ["python"]
# A helper whose name says it checks something counts as an assertion when called.
ASSERTING_CALL = re.compile(
    r"(^|\.)(assert\w*|expect\w*|check_\w+|verify\w*|fail)$|^pytest\.(raises|warns|fail)$"
)
VAGUE_WORDS = {
    "it",
    "foo",
    "bar",
    "baz",
    "works",
    "basic",
    "test",
    "stuff",
    "thing",
    "case",
    "simple",
    "ok",
    "run",
}
SLEEPS = {"time.sleep", "asyncio.sleep", "trio.sleep", "anyio.sleep"}
NETWORK_CALLS = re.compile(
    r"^(requests|httpx)\.(get|post|put|patch|delete|head|options|request|stream)$|^urllib\.request\.urlopen$"
)
LOCAL_HOSTS = re.compile(r"^[a-z]+://(localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0|testserver|test)([:/]|$)")
# Entry points and wiring with nothing to unit test of their own.
UNTESTED_OK = {"__init__.py", "__main__.py", "conftest.py", "env.py", "main.py", "manage.py", "setup.py"}


def is_test_module(source: SourceFile) -> bool:
    """A module pytest collects: test_*.py or *_test.py."""
    return source.language == "python" and (
        source.name.startswith("test_") or source.name.endswith("_test.py")
    )


def test_functions(tree: ast.Module) -> Iterator[FunctionNode]:
    """test_* functions at module level and in Test* classes."""
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) and node.name.startswith("Test") else [node]
        for member in members:
            if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef) and member.name.startswith("test"):
                yield member


def _tests(source: SourceFile) -> list[FunctionNode]:
    return list(test_functions(parse_module(source))) if is_test_module(source) else []


@check("testing-test-writing", "sleep-in-test", PY)
def sleep_in_test(source: SourceFile) -> Iterator[Finding]:
    """time.sleep / asyncio.sleep in tests: slow and timing dependent."""
    if not is_test_module(source):
        return
    imported = imports(source)
    for node in nodes(source, ast.Call):
        if qualified_name(node.func, imported) not in SLEEPS:
            continue
        delay = node.args[0] if node.args else None
        if isinstance(delay, ast.Constant) and delay.value == 0:
            continue  # sleep(0) yields to the event loop; it does not wait
        yield source.finding(
            "testing-test-writing",
            "sleep-in-test",
            node.lineno,
            f"{dotted_name(node.func)}() makes the test slow and timing dependent; "
            "wait for the condition or control the clock",
            Severity.WARNING,
        )


@check("testing-test-writing", "vague-test-name", PY)
def vague_test_name(source: SourceFile) -> Iterator[Finding]:
    """Test names that do not say which behaviour they prove (test_1, test_it, test_foo)."""
    for test in _tests(source):
        words = [w for w in test.name.removeprefix("test").split("_") if w]
        meaningful = [w for w in words if not w.isdigit() and w.lower() not in VAGUE_WORDS]
        if len(words) < 2 or not meaningful:
            yield source.finding(
                "testing-test-writing",
                "vague-test-name",
                test.lineno,
                f"{test.name} does not say what behaviour it proves; name it like "
                "test_<subject>_<expected behaviour>",
                Severity.WARNING,
            )


@check("testing-test-writing", "network-in-test", PY)
def network_in_test(source: SourceFile) -> Iterator[Finding]:
    """Tests calling real network hosts (requests.get("https://...")): flaky and slow."""
    if not is_test_module(source):
        return
    imported = imports(source)
    for node in nodes(source, ast.Call):
        if not NETWORK_CALLS.match(qualified_name(node.func, imported)):
            continue
        urls = [string_value(a) for a in node.args] + [string_value(k.value) for k in node.keywords]
        remote = [u for u in urls if u and re.match(r"^[a-z]+://", u) and not LOCAL_HOSTS.match(u)]
        if remote:
            yield source.finding(
                "testing-test-writing",
                "network-in-test",
                node.lineno,
                f"the test calls {remote[0]} over the network; mock the boundary (respx, responses) or use a local server",
            )


def _asserting_helpers(tree: ast.Module) -> set[str]:
    """Module functions that assert, directly or through other such helpers."""
    bodies = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    asserting: set[str] = set()
    changed = True
    while changed:  # a fixed point: helpers calling asserting helpers assert too
        changed = False
        for name, function in bodies.items():
            if name not in asserting and _asserts(function, asserting):
                asserting.add(name)
                changed = True
    return asserting


def _asserts(function: FunctionNode, helpers: set[str]) -> bool:
    for node in walk_scope(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = call_name(node)
            if ASSERTING_CALL.search(name) or name in helpers:
                return True
    return False


def _is_skipped(test: FunctionNode) -> bool:
    return any(dotted_name(d).endswith(("mark.skip", "mark.xfail")) for d in test.decorator_list)


@check("testing-unit-tests", "no-assertion", PY)
def no_assertion(source: SourceFile) -> Iterator[Finding]:
    """Tests that assert nothing: they only prove that no exception was raised."""
    tests = _tests(source)
    if not tests:
        return
    helpers = _asserting_helpers(parse_module(source))
    for test in tests:
        if not _is_skipped(test) and not _asserts(test, helpers):
            yield source.finding(
                "testing-unit-tests",
                "no-assertion",
                test.lineno,
                f"{test.name} makes no assertion; assert the exact outcome (assert, pytest.raises, mock.assert_*)",
            )


def _is_weak(assertion: ast.Assert) -> bool:
    """`assert result` or `assert x is not None`: truthiness, not a specific outcome. A call
    (`assert text.startswith(...)`, `isinstance`) is a predicate, so it is specific enough."""
    test = assertion.test
    if isinstance(test, ast.Name | ast.Attribute):
        return True
    return (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    )


@check("testing-unit-tests", "weak-assertion", PY)
def weak_assertion(source: SourceFile) -> Iterator[Finding]:
    """Tests whose only assertions check truthiness (assert result, is not None)."""
    for test in _tests(source):
        nodes = list(walk_scope(test))
        asserts = [n for n in nodes if isinstance(n, ast.Assert)]
        other_checks = any(isinstance(n, ast.Call) and ASSERTING_CALL.search(call_name(n)) for n in nodes)
        if asserts and not other_checks and all(_is_weak(a) for a in asserts):
            yield source.finding(
                "testing-unit-tests",
                "weak-assertion",
                asserts[0].lineno,
                f"{test.name} only checks truthiness; assert exact values",
                Severity.INFO,
            )


def module_name(path: str) -> str:
    """Dotted module name of a path: app/models/item.py -> app.models.item, and a package's
    __init__.py -> the package."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _matches(module: str, imported: str) -> bool:
    """Does an import name the module? Suffix match, so a src/ prefix or a different root
    in the file set does not matter."""
    return module == imported or module.endswith("." + imported)


def _has_public_definitions(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not n.name.startswith("_")
        for n in tree.body
    )


@project_check("testing-coverage", "untested-module", PY)
def untested_module(sources: list[SourceFile]) -> Iterator[Finding]:
    """Modules with public functions or classes that no test reaches through imports."""
    parsed = {s.path: (s, tree) for s in sources if (tree := try_parse(s)) is not None}
    candidates = [
        (s, module_name(s.path))
        for s, tree in parsed.values()
        if not s.is_test
        and s.name not in UNTESTED_OK
        # A file whose name is not an identifier (an Alembic revision) is loaded by a tool,
        # never imported, so a test cannot import it either.
        and PurePosixPath(s.path).stem.isidentifier()
        and _has_public_definitions(tree)
    ]
    if not any(is_test_module(s) for s in sources):
        if candidates:
            first = min(candidates, key=lambda c: c[0].path)[0]
            yield first.finding(
                "testing-coverage", "untested-module", 1, "no tests in the file set", Severity.INFO
            )
        return
    reached = _reached_from_tests(parsed)
    for source, module in candidates:
        if module not in reached:
            yield source.finding(
                "testing-coverage",
                "untested-module",
                1,
                f"no test reaches {module} through its imports; add tests for its public functions",
                Severity.WARNING,
            )


def _reached_from_tests(parsed: dict[str, tuple[SourceFile, ast.Module]]) -> set[str]:
    """First-party modules the tests import, directly or through other modules: a route
    tested over HTTP is reached through the app factory the test imports."""
    by_module = {module_name(s.path): (s, tree) for s, tree in parsed.values()}
    frontier = [module_name(s.path) for s, _ in parsed.values() if s.is_test or s.name == "conftest.py"]
    reached: set[str] = set()
    while frontier:
        module = frontier.pop()
        if module in reached:
            continue
        reached.add(module)
        source, tree = by_module[module]
        # Relative imports resolve against the package: the module itself for __init__.py.
        package = module if source.name == "__init__.py" else module.rpartition(".")[0]
        names = {name for name, _ in imported_modules(ast.walk(tree))}
        names |= {
            name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level
            for name in _absolute(package, node)
        }
        frontier += [m for m in by_module if m not in reached and any(_matches(m, n) for n in names)]
    return reached


def _absolute(package: str, node: ast.ImportFrom) -> list[str]:
    """Absolute names of what a (possibly relative) import inside `package`/__init__.py
    brings in: the module, and each imported name as a possible submodule."""
    if node.level:
        parts = package.split(".")
        base = parts[: len(parts) - (node.level - 1)]
        module = ".".join([*base, node.module] if node.module else base)
    else:
        module = node.module or ""
    return [module, *(f"{module}.{alias.name}" for alias in node.names)]
