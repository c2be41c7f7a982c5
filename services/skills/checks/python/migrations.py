"""backend-migrations for Alembic: every migration has revision identifiers and a downgrade
that does something, and NOT NULL columns are not added to live tables without a default.

A module is a migration when it defines a top-level `upgrade()` and either imports alembic
or assigns `revision`."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from services.skills.checks.base import Finding, SourceFile, check
from services.skills.checks.python.source import (
    call_name,
    imported_tops,
    is_docstring,
    keyword,
    nodes,
    parse_module,
    string_value,
    top_level_names,
)

SKILL = "backend-migrations"
PY = ["python"]
REVISION_NAMES = ("revision", "down_revision")


def _migration(source: SourceFile) -> tuple[ast.Module, dict[str, ast.AST]] | None:
    """The AST and top-level names of an Alembic migration, None for any other module."""
    tree = parse_module(source)
    names = top_level_names(tree)
    if not isinstance(names.get("upgrade"), ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    return (tree, names) if "alembic" in imported_tops(source) or "revision" in names else None


def _does_nothing(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A body of only pass, `...`, a docstring, or raising NotImplementedError."""
    for statement in function.body:
        if isinstance(statement, ast.Pass) or is_docstring(statement):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = call_name(statement.exc) or getattr(statement.exc, "id", "")
            if raised == "NotImplementedError":
                continue
        return False
    return True


@check(SKILL, "missing-downgrade", PY)
def missing_downgrade(source: SourceFile) -> Iterator[Finding]:
    """Migrations without a downgrade(), or whose downgrade does nothing."""
    migration = _migration(source)
    if migration is None:
        return
    _, names = migration
    downgrade = names.get("downgrade")
    upgrade = names["upgrade"]
    if not isinstance(downgrade, ast.FunctionDef | ast.AsyncFunctionDef):
        yield source.finding(
            SKILL,
            "missing-downgrade",
            getattr(upgrade, "lineno", 1),
            "migration defines upgrade() but no downgrade(); write the downgrade that restores the previous schema",
        )
    elif _does_nothing(downgrade):
        yield source.finding(
            SKILL,
            "missing-downgrade",
            downgrade.lineno,
            "downgrade() does nothing; it must undo what upgrade() does",
        )


@check(SKILL, "missing-revision", PY)
def missing_revision(source: SourceFile) -> Iterator[Finding]:
    """Migrations without `revision` / `down_revision` identifiers."""
    migration = _migration(source)
    if migration is None:
        return
    _, names = migration
    missing = [name for name in REVISION_NAMES if name not in names]
    if missing:
        yield source.finding(
            SKILL,
            "missing-revision",
            1,
            f"migration does not assign {' / '.join(missing)}; Alembic cannot place it in the history",
        )


@check(SKILL, "not-null-without-default", PY)
def not_null_without_default(source: SourceFile) -> Iterator[Finding]:
    """add_column of a NOT NULL column without server_default: fails on a table with rows."""
    migration = _migration(source)
    if migration is None:
        return
    for node in nodes(source, ast.Call):
        if not call_name(node).endswith("add_column"):
            continue
        for column in node.args:
            if not isinstance(column, ast.Call) or not call_name(column).endswith("Column"):
                continue
            nullable = keyword(column, "nullable")
            if (
                isinstance(nullable, ast.Constant)
                and nullable.value is False
                and not keyword(column, "server_default")
            ):
                name = string_value(column.args[0]) if column.args else None
                yield source.finding(
                    SKILL,
                    "not-null-without-default",
                    column.lineno,
                    f"adds NOT NULL column {name or '?'} without server_default; existing rows make it fail "
                    "(add it nullable, backfill, then set NOT NULL, or give it a server_default)",
                )
