"""Mechanical fixes (ApplyStandards): the changes a machine can make without judgement.

1. Missing created_at / updated_at on SQLAlchemy models (the backend-models timestamp
   check, over the same file set): the columns are inserted into the class on the AST's
   line numbers, with DateTime(timezone=True) and server_default=func.now(), and the imports
   they need are added.
2. `ruff check --fix` with safe fixes only, for SAFE_RULES: import sorting, unused
   imports, f-strings without placeholders, pyupgrade.
3. `ruff format`.

Ruff runs once per step over all Python files, written to a temporary directory with
their relative paths (so ruff sees `app/` and sorts `from app...` as first-party), with
`--isolated`: no configuration found on disk (the service's own pyproject.toml, say) can
change the result. The only settings taken over are those the file set's own
pyproject.toml declares for layout: line-length, target-version (or requires-python), and
isort's known-first-party / known-third-party. Rule selection is always SAFE_RULES.

A Python file that does not parse is returned unchanged; files of other languages too.
"""

from __future__ import annotations

import ast
import json
import re
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from services.skills.checks.python.models import TimestampGap, timestamp_gaps
from services.skills.checks.python.source import (
    RuffDiagnostic,
    bound_import_names,
    call_name,
    parse_diagnostics,
    run_ruff,
)
from services.skills.checks.python.stack import (
    first_party_names,
    normalise,
    pyproject_requirements,
    requirement_names,
)

SAFE_RULES = ("I001", "F401", "F541", "UP")
DEFAULT_TARGET = "py311"
TARGETS = {f"py3{minor}" for minor in range(7, 15)}  # the versions ruff accepts
MAX_LINE_LENGTH = 320  # ruff's own limit
MODULE_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
REQUIRES_PYTHON = re.compile(r">=\s*3\.(\d+)")
COLUMN_CALLS = {"mapped_column", "Column"}


@dataclass(frozen=True)
class FixResult:
    """The files after fixing, in input order, and one line per fix applied."""

    files: list[tuple[str, str]]
    fixes: list[str]


def apply_fixes(files: list[tuple[str, str]]) -> FixResult:
    """Apply every mechanical fix to `files` ((path, content) pairs)."""
    contents = dict(files)
    trees = {
        path: tree for path, content in files if _is_python(path) and (tree := _parse(content)) is not None
    }
    applied: list[str] = []
    for gap_path, gaps in _gaps_by_path(trees).items():
        fixed, notes = add_timestamps(contents[gap_path], gaps)
        if notes and _parse(fixed) is not None:
            contents[gap_path] = fixed
            applied += [f"{gap_path}: {note}" for note in notes]
    python = {path: contents[path] for path in trees if _safe_path(path)}
    if python:
        fixed_files, ruff_notes = run_ruff_fixes(python, ruff_settings(files))
        contents.update(fixed_files)
        applied += ruff_notes
    return FixResult([(path, contents[path]) for path, _ in files], applied)


def _is_python(path: str) -> bool:
    return PurePosixPath(path).suffix == ".py"


def _parse(content: str) -> ast.Module | None:
    try:
        return ast.parse(content)
    except (SyntaxError, ValueError):
        return None


def _safe_path(path: str) -> bool:
    """A relative path that stays inside the temporary directory once written there."""
    pure = PurePosixPath(path)
    return bool(pure.parts) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path


def _gaps_by_path(trees: dict[str, ast.Module]) -> dict[str, list[TimestampGap]]:
    by_path: dict[str, list[TimestampGap]] = {}
    for gap in timestamp_gaps(trees.items()):
        by_path.setdefault(gap.path, []).append(gap)
    return by_path


# --- ruff -------------------------------------------------------------------------------


def ruff_settings(files: list[tuple[str, str]]) -> list[str]:
    """Command-line settings from the file set's root pyproject.toml (see the module doc),
    and the file set's own top-level packages as isort's first party: ruff only recognises
    a first-party import whose module file exists, and a generated set is often partial."""
    data = _root_pyproject(files)
    ruff = data.get("tool", {}).get("ruff", {})
    target = ruff.get("target-version") or _target_from_requires(
        data.get("project", {}).get("requires-python", "")
    )
    # Values ruff would refuse (exit 2) fall back to the defaults instead of failing the fix.
    settings = ["--target-version", target if target in TARGETS else DEFAULT_TARGET]
    length = ruff.get("line-length")
    if isinstance(length, int) and 1 <= length <= MAX_LINE_LENGTH:
        settings += ["--line-length", str(length)]
    isort = ruff.get("lint", {}).get("isort", {})
    # A top-level folder named like a declared dependency (a migrations folder called
    # `alembic`) is not the package the code imports: third party, whatever is on disk.
    declared = requirement_names(pyproject_requirements(data))
    top_level = first_party_names(p for p, _ in files)
    third_party = _module_names(isort.get("known-third-party")) | {
        p for p in top_level if normalise(p) in declared
    }
    first_party = _module_names(isort.get("known-first-party")) | _declared_packages(data)
    first_party |= top_level - third_party
    for key, names in (("known-first-party", first_party), ("known-third-party", third_party)):
        if names:
            settings += ["--config", f"lint.isort.{key} = {json.dumps(sorted(names))}"]
    return settings


def _module_names(value: object) -> set[str]:
    """The module names of a configured list, dropping anything that is not one."""
    items = value if isinstance(value, list) else []
    return {str(item) for item in items if MODULE_NAME.match(str(item))}


def _declared_packages(data: dict[str, Any]) -> set[str]:
    """Packages the pyproject says it builds (setuptools packages / packages.find include)."""
    setuptools = data.get("tool", {}).get("setuptools", {})
    packages = setuptools.get("packages", [])
    listed = packages if isinstance(packages, list) else packages.get("find", {}).get("include", [])
    names = {str(p).split(".")[0].rstrip("*") for p in listed}
    return {name for name in names if MODULE_NAME.match(name)}


def _root_pyproject(files: list[tuple[str, str]]) -> dict[str, Any]:
    manifests = sorted((p for p, _ in files if PurePosixPath(p).name == "pyproject.toml"), key=len)
    if not manifests:
        return {}
    try:
        return tomllib.loads(dict(files)[manifests[0]])
    except tomllib.TOMLDecodeError:
        return {}


def _target_from_requires(requires: str) -> str:
    match = REQUIRES_PYTHON.search(requires)
    return f"py3{match.group(1)}" if match else DEFAULT_TARGET


def run_ruff_fixes(files: dict[str, str], settings: list[str]) -> tuple[dict[str, str], list[str]]:
    """Safe ruff fixes then ruff format over `files`; the new contents and what changed."""
    with tempfile.TemporaryDirectory(prefix="devmatrix-fix-") as directory:
        root = Path(directory).resolve()
        for path, content in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        paths = list(files)
        check = ["check", "--isolated", "--no-cache", "--select", ",".join(SAFE_RULES), *settings]
        before = _diagnostics(root, check, paths)
        run_ruff([*check, "--fix-only", "--quiet", *paths], cwd=str(root))
        after = _diagnostics(root, check, paths)
        checked = {path: (root / path).read_text(encoding="utf-8") for path in paths}
        run_ruff(
            ["format", "--isolated", "--no-cache", "--quiet", *_layout_only(settings), *paths], cwd=str(root)
        )
        formatted = {path: (root / path).read_text(encoding="utf-8") for path in paths}
    notes: list[str] = []
    for path in paths:
        notes += [f"{path}: {describe(d)}" for d in _fixed(before.get(path, []), after.get(path, []))]
        if formatted[path] != checked[path]:
            notes.append(f"{path}: ruff format")
    return formatted, notes


def _layout_only(settings: list[str]) -> list[str]:
    """The settings ruff format accepts: target-version and line-length, not isort's."""
    kept: list[str] = []
    for flag, value in zip(settings[::2], settings[1::2], strict=True):
        if flag != "--config":
            kept += [flag, value]
    return kept


def _diagnostics(root: Path, check: list[str], paths: list[str]) -> dict[str, list[RuffDiagnostic]]:
    output = run_ruff([*check, "--output-format", "json", *paths], cwd=str(root))
    by_path: dict[str, list[RuffDiagnostic]] = {}
    for filename, diagnostic in parse_diagnostics(output):
        relative = Path(filename).resolve().relative_to(root).as_posix()
        by_path.setdefault(relative, []).append(diagnostic)
    return by_path


def _fixed(before: list[RuffDiagnostic], after: list[RuffDiagnostic]) -> list[RuffDiagnostic]:
    """Diagnostics with a safe fix that are gone after fixing (compared by code and message,
    since the fixes move lines)."""
    remaining = Counter((d.code, d.message) for d in after)
    fixed = []
    for diagnostic in before:
        key = (diagnostic.code, diagnostic.message)
        if remaining[key]:
            remaining[key] -= 1
        elif diagnostic.fix_applicability == "safe":
            fixed.append(diagnostic)
    return fixed


def describe(diagnostic: RuffDiagnostic) -> str:
    """A fix in words: "removed unused import os (F401)", "sorted imports (I001)"."""
    if diagnostic.code == "F401":
        name = re.search(r"`([^`]+)`", diagnostic.message)
        return f"removed unused import {name.group(1) if name else ''} (F401)"
    if diagnostic.code == "I001":
        return "sorted imports (I001)"
    what = diagnostic.fix_message or diagnostic.message
    return f"{what[:1].lower()}{what[1:]} ({diagnostic.code})"


# --- timestamps ---------------------------------------------------------------------------


def add_timestamps(content: str, gaps: list[TimestampGap]) -> tuple[str, list[str]]:
    """Insert the missing timestamp columns of each model in `gaps` (all of one file, whose
    AST the gaps were computed on) and the imports they need; the new text and notes."""
    tree = ast.parse(content)
    lines = content.splitlines(keepends=True)
    names = _Names(tree)
    insertions: list[tuple[int, list[str]]] = []
    notes = []
    for gap in gaps:
        model = gap.model.node
        anchor = _insertion_anchor(model)
        indent = " " * anchor.col_offset
        mapped = _uses_mapped(model, names)
        insertions.append(
            (anchor.end_lineno or anchor.lineno, [indent + _column(c, mapped, names) for c in gap.missing])
        )
        notes.append(f"added {'/'.join(gap.missing)} to {model.name}")
    imports = names.missing_imports()
    if imports:
        insertions.append((_import_line(tree), imports))
    for after_line, new_lines in sorted(insertions, key=lambda i: i[0], reverse=True):
        newline = "" if after_line == 0 or lines[after_line - 1].endswith("\n") else "\n"
        lines[after_line:after_line] = [newline + "\n".join(new_lines) + "\n"]
    return "".join(lines), notes


class _Names:
    """How the module spells datetime and SQLAlchemy names, and the imports to add for the
    ones it does not have yet."""

    def __init__(self, tree: ast.Module) -> None:
        self.bound = bound_import_names(tree.body)
        self.needed: dict[str, set[str]] = {}  # module -> names to import from it

    def spell(self, name: str, module: str) -> str:
        """`name` from `module` as this module can refer to it, noting an import if needed."""
        if name == "datetime" and self.bound.get("datetime") == "datetime":
            return "datetime.datetime"  # `import datetime`: the module, not the class
        if name in self.bound:
            return name
        alias = next((local for local, origin in self.bound.items() if origin == module), None)
        if alias:
            return f"{alias}.{name}"  # import sqlalchemy as sa -> sa.DateTime
        self.needed.setdefault(module, set()).add(name)
        return name

    def missing_imports(self) -> list[str]:
        """`from module import a, b` lines for every name spelled but not yet imported."""
        return [
            f"from {module} import {', '.join(sorted(names))}"
            for module, names in sorted(self.needed.items())
        ]


def _uses_mapped(model: ast.ClassDef, names: _Names) -> bool:
    """SQLAlchemy 2 style (Mapped[...] = mapped_column) unless the class or module uses the
    legacy Column() style only."""
    calls = {call_name(n).rsplit(".", 1)[-1] for n in ast.walk(model) if isinstance(n, ast.Call)}
    if "mapped_column" in calls:
        return True
    return "Column" not in calls and "Column" not in names.bound


def _column(name: str, mapped: bool, names: _Names) -> str:
    datetime_type = f"{names.spell('DateTime', 'sqlalchemy')}(timezone=True)"
    now = f"{names.spell('func', 'sqlalchemy')}.now()"
    options = f"{datetime_type}, server_default={now}"
    if name == "updated_at":
        options += f", onupdate={now}"
    options += ", nullable=False"
    if not mapped:
        return f"{name} = {names.spell('Column', 'sqlalchemy')}({options})"
    annotation = f"{names.spell('Mapped', 'sqlalchemy.orm')}[{names.spell('datetime', 'datetime')}]"
    return f"{name}: {annotation} = {names.spell('mapped_column', 'sqlalchemy.orm')}({options})"


def _insertion_anchor(model: ast.ClassDef) -> ast.stmt:
    """The statement after which the columns go: the last column of the class, else its
    __tablename__ / __table_args__, else its last statement."""
    columns = [
        s
        for s in model.body
        if isinstance(s, ast.Assign | ast.AnnAssign)
        and (
            (isinstance(s.value, ast.Call) and call_name(s.value).rsplit(".", 1)[-1] in COLUMN_CALLS)
            or any(isinstance(t, ast.Name) and t.id.startswith("__table") for t in _targets(s))
        )
    ]
    return columns[-1] if columns else model.body[-1]


def _targets(statement: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return statement.targets if isinstance(statement, ast.Assign) else [statement.target]


def _import_line(tree: ast.Module) -> int:
    """The line after which new imports go: the last module-level import, else the
    docstring, else the top of the file."""
    imports = [s for s in tree.body if isinstance(s, ast.Import | ast.ImportFrom)]
    if imports:
        return imports[-1].end_lineno or imports[-1].lineno
    first = tree.body[0] if tree.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first.end_lineno or first.lineno
    return 0
