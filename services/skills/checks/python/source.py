"""Shared parsing for the Python checks: the AST (parsed once per file and cached on the
SourceFile), ruff diagnostics for the rules ruff already implements well, and small AST
helpers (dotted names, docstrings, function walks) the check modules have in common.

Ruff runs as its binary over stdin, one call per file, with `--isolated`: the checked code
arrives from a generator, not from a project on disk, so no pyproject.toml found by walking
up from the working directory may change which rules fire. The rules are selected
explicitly; the target version is fixed at the stack's Python (3.11).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TypeVar, cast

from services.skills.checks.base import ParseFailed, SourceFile

TARGET_VERSION = "py311"
# The ruff rules the checks report; every other rule is decided on the AST here.
RUFF_RULES = ("F401", "F821", "F841")
RUFF_TIMEOUT_SECONDS = 30.0

GENERATED = re.compile(r"\bDO NOT EDIT\b|@generated\b")
GENERATED_MARKER_LINES = 5

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
N = TypeVar("N", bound=ast.AST)
SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


class RuffUnavailable(RuntimeError):
    """The ruff binary is missing or failed: a broken installation, not a finding."""


@dataclass(frozen=True)
class RuffDiagnostic:
    """One ruff diagnostic, reduced to what the checks and the fixer use."""

    code: str
    line: int
    message: str
    fix_applicability: str  # "safe", "unsafe", "display-only" or "" without a fix
    fix_message: str = ""  # what the fix does ("Remove unused import: `os`")


@cache
def ruff_binary() -> str:
    """The ruff executable beside the running interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("ruff")
    if found is None:
        raise RuffUnavailable("ruff is not installed (pip install ruff)")
    return found


def run_ruff(args: list[str], stdin: str | None = None, cwd: str | None = None) -> str:
    """Run ruff with `args` and return its stdout. Exit status 1 means "diagnostics found"
    for `ruff check`, so only 2 and above (usage or internal errors) are failures."""
    try:
        done = subprocess.run(
            [ruff_binary(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=RUFF_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuffUnavailable(f"ruff {args[0]} failed: {error}") from error
    if done.returncode > 1:
        raise RuffUnavailable(f"ruff {args[0]} exited {done.returncode}: {done.stderr.strip()[:500]}")
    return done.stdout


def parse_diagnostics(output: str) -> list[tuple[str, RuffDiagnostic]]:
    """(filename, diagnostic) pairs of ruff's `--output-format json`."""
    found = []
    for item in json.loads(output or "[]"):
        if not item.get("code"):  # syntax errors carry no code; the AST parse reports those
            continue
        fix = item.get("fix") or {}
        diagnostic = RuffDiagnostic(
            item["code"],
            item["location"]["row"],
            item["message"],
            fix.get("applicability", ""),
            fix.get("message") or "",
        )
        found.append((item.get("filename", ""), diagnostic))
    return found


def parse_module(source: SourceFile) -> ast.Module:
    """The file's AST, parsed once; a syntax error raises ParseFailed with its line. A
    generated file (see is_generated) is checked as an empty module: nobody edits it by
    hand, so a finding there could not be acted on."""
    return source.cached(
        "python.ast", lambda: ast.Module([], []) if is_generated(source) else _parse(source.content)
    )


def is_generated(source: SourceFile) -> bool:
    """Does the file say it is generated (protoc's "DO NOT EDIT", "@generated") near its top?"""
    return any(GENERATED.search(line) for line in source.lines[:GENERATED_MARKER_LINES])


def _parse(content: str) -> ast.Module:
    try:
        return ast.parse(content)
    except SyntaxError as error:
        raise ParseFailed(error.lineno or 1, error.msg) from error
    except ValueError as error:  # null bytes in the source
        raise ParseFailed(1, str(error)) from error


def try_parse(source: SourceFile) -> ast.Module | None:
    """The AST, or None for a file that does not parse (project checks leave those to the
    file checks, which report them once)."""
    try:
        return parse_module(source)
    except ParseFailed:
        return None


def ruff_diagnostics(source: SourceFile) -> list[RuffDiagnostic]:
    """The RUFF_RULES diagnostics of the file; parses first so a syntax error is ParseFailed."""
    if not parse_module(source).body:
        return []  # empty or generated: nothing to report
    return source.cached("python.ruff", lambda: _ruff_check(source))


def _ruff_check(source: SourceFile) -> list[RuffDiagnostic]:
    args = ["check", "--isolated", "--no-cache", "--select", ",".join(RUFF_RULES)]
    args += ["--target-version", TARGET_VERSION, "--output-format", "json"]
    output = run_ruff([*args, "--stdin-filename", source.path, "-"], stdin=source.content)
    return [d for _, d in parse_diagnostics(output)]


def dotted_name(node: ast.AST) -> str:
    """`a.b.c` for a Name/Attribute chain (calls in between are skipped: `a().b` is `a.b`),
    "" for anything else."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        else:
            return ""


def call_name(node: ast.AST) -> str:
    """The dotted name of the function a Call calls, "" for anything else."""
    return dotted_name(node.func) if isinstance(node, ast.Call) else ""


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The value of keyword argument `name` of the call, None when absent."""
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_true(node: ast.expr | None) -> bool:
    """Is the node the literal True?"""
    return isinstance(node, ast.Constant) and node.value is True


def string_value(node: ast.AST | None) -> str | None:
    """The value of a string literal, None for anything else."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def has_docstring(node: ast.Module | ast.ClassDef | FunctionNode) -> bool:
    """Does the module, class or function start with a docstring?"""
    return ast.get_docstring(node, clean=False) is not None


def docstring_node(node: ast.Module | ast.ClassDef | FunctionNode) -> ast.Constant | None:
    """The string constant that is the node's docstring, if it has one."""
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first.value
    return None


def is_docstring(statement: ast.stmt) -> bool:
    """Is the statement a bare string literal (a docstring where it comes first)?"""
    return isinstance(statement, ast.Expr) and string_value(statement.value) is not None


def nodes(source: SourceFile, *kinds: type[N]) -> list[N]:
    """Every node of the file of the given types. The tree is walked once per file and
    indexed by node type: a dozen checks each walking the whole tree cost seconds on a
    hundred files. Several kinds come back in source order."""
    index: dict[type, list[ast.AST]] = source.cached("python.index", lambda: _index(parse_module(source)))
    found = [node for kind in kinds for node in index.get(kind, [])]
    if len(kinds) > 1:
        found.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
    return cast(list[N], found)


def _index(tree: ast.Module) -> dict[type, list[ast.AST]]:
    index: dict[type, list[ast.AST]] = {}
    for node in ast.walk(tree):
        index.setdefault(type(node), []).append(node)
    return index


def functions(source: SourceFile) -> list[FunctionNode]:
    """Every function and method, nested ones included."""
    return nodes(source, ast.FunctionDef, ast.AsyncFunctionDef)


def imports(source: SourceFile) -> dict[str, str]:
    """bound_import_names of the file, computed once."""
    return source.cached(
        "python.imports", lambda: bound_import_names(nodes(source, ast.Import, ast.ImportFrom))
    )


def imported_tops(source: SourceFile) -> set[str]:
    """Top-level packages the file imports from (`fastapi`, `sqlalchemy`)."""
    return {origin.lstrip(".").split(".")[0] for origin in imports(source).values()}


def walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of one scope: like ast.walk below `node`, without entering nested
    functions, classes or lambdas (their code does not run as part of this one)."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, SCOPE_NODES):
            stack.extend(ast.iter_child_nodes(child))


def top_level_names(tree: ast.Module) -> dict[str, ast.AST]:
    """Module-level definitions by name: functions, classes and assigned names."""
    names: dict[str, ast.AST] = {}
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[statement.name] = statement
        targets = (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else []
        )
        names.update((t.id, statement) for t in targets if isinstance(t, ast.Name))
    return names


def imported_modules(statements: Iterable[ast.AST]) -> Iterator[tuple[str, int]]:
    """(absolute module name, line) of every import among `statements`; `from a.b import c`
    yields a.b and a.b.c (c may be a submodule). Relative imports are skipped: they are
    first-party."""
    for node in statements:
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module, node.lineno
            yield from ((f"{node.module}.{a.name}", node.lineno) for a in node.names if a.name != "*")


def bound_import_names(statements: Iterable[ast.AST]) -> dict[str, str]:
    """Local name -> what it was imported as (`from x import y as z` gives z -> x.y), over
    the import statements among `statements` (`ast.walk(tree)` for a whole module)."""
    names: dict[str, str] = {}
    for node in statements:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                names[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module or ''}.{alias.name}"
    return names


def caught_names(handler: ast.ExceptHandler) -> list[str]:
    """The exception class names a handler catches (last component of each)."""
    if handler.type is None:
        return []
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return [dotted_name(t).rsplit(".", 1)[-1] for t in types]


def base_names(node: ast.ClassDef) -> list[str]:
    """The last component of each base class name (`orm.DeclarativeBase` -> DeclarativeBase)."""
    names = []
    for base in node.bases:
        if isinstance(base, ast.Subscript):  # Generic[T], BaseModel subclasses with params
            base = base.value
        name = dotted_name(base)
        if name:
            names.append(name.rsplit(".", 1)[-1])
    return names


def is_script(source: SourceFile, tree: ast.Module) -> bool:
    """An entry-point script: `__main__.py`, a scripts/ or bin/ file, or a module with an
    `if __name__ == "__main__":` block. Scripts may print to their terminal."""
    parts = PurePosixPath(source.path).parts
    if source.name == "__main__.py" or {"scripts", "bin"} & set(parts[:-1]):
        return True
    for statement in tree.body:
        if isinstance(statement, ast.If) and isinstance(statement.test, ast.Compare):
            names = {dotted_name(statement.test.left)} | {dotted_name(c) for c in statement.test.comparators}
            if "__name__" in names:
                return True
    return False


def qualified_name(node: ast.AST, imported: dict[str, str]) -> str:
    """The dotted name of `node` with its first component replaced by what it was imported
    as: `dt.datetime.now` after `import datetime as dt` is `datetime.datetime.now`, and
    `datetime.now` after `from datetime import datetime` is the same."""
    name = dotted_name(node)
    head, _, rest = name.partition(".")
    origin = imported.get(head)
    if not origin:
        return name
    return f"{origin}.{rest}" if rest else origin
