"""backend-models for SQLAlchemy: timestamps on every table, indexed foreign keys and
timezone-aware datetime columns.

Timestamps often come from a mixin or base class in another module, so that check looks
at the whole file set: a model passes when it or any base class in the set declares
created_at and updated_at. A base outside the set passes when its name says it adds them
(TimestampMixin, TimestampedBase, AuditMixin). `timestamp_gaps` is shared with the fixer,
which adds the missing columns.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from services.skills.checks.base import Finding, Severity, SourceFile, check, project_check
from services.skills.checks.python.source import (
    base_names,
    call_name,
    dotted_name,
    imports,
    is_true,
    keyword,
    nodes,
    qualified_name,
    string_value,
    try_parse,
)

SKILL = "backend-models"
PY = ["python"]
TIMESTAMPS = ("created_at", "updated_at")
TIMESTAMP_BASE = re.compile(r"timestamp|audit", re.IGNORECASE)
COLUMN_CALLS = {"mapped_column", "Column"}
NAIVE_TYPES = {"DateTime", "TIMESTAMP"}
INDEX_CALLS = {"Index": 1, "UniqueConstraint": 0, "PrimaryKeyConstraint": 0}  # -> position of first column


@dataclass(frozen=True)
class ClassInfo:
    """A module-level class: the names its body binds and its base class names."""

    path: str
    node: ast.ClassDef = field(compare=False)
    fields: frozenset[str]
    bases: tuple[str, ...]

    @property
    def is_table(self) -> bool:
        """A mapped table: has __tablename__ and is not declared abstract."""
        return "__tablename__" in self.fields and not _class_constant(self.node, "__abstract__")


@dataclass(frozen=True)
class TimestampGap:
    """A mapped table and the timestamp columns it lacks."""

    path: str
    model: ClassInfo
    missing: tuple[str, ...]


def class_fields(node: ast.ClassDef) -> frozenset[str]:
    """Names the class body binds: annotated and plain assignments, and declared_attr methods."""
    names: set[str] = set()
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.add(statement.target.id)
        elif isinstance(statement, ast.Assign):
            names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        elif isinstance(statement, ast.FunctionDef):
            names.add(statement.name)
    return frozenset(names)


def _class_constant(node: ast.ClassDef, name: str) -> bool:
    return any(
        isinstance(s, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in s.targets)
        and is_true(s.value)
        for s in node.body
    )


def module_classes(path: str, tree: ast.Module) -> list[ClassInfo]:
    """The module-level classes of one module."""
    return [
        ClassInfo(path, node, class_fields(node), tuple(base_names(node)))
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    ]


def timestamp_gaps(modules: Iterable[tuple[str, ast.Module]]) -> list[TimestampGap]:
    """Every mapped table among `modules` (path, AST) lacking created_at or updated_at,
    through its own body and its bases in the set."""
    classes = [c for path, tree in modules for c in module_classes(path, tree)]
    by_name: dict[str, list[ClassInfo]] = {}
    for info in classes:
        by_name.setdefault(info.node.name, []).append(info)

    def inherited(name: str, seen: frozenset[str]) -> set[str]:
        if name in seen:
            return set()
        known = by_name.get(name)
        if not known:
            return set(TIMESTAMPS) if TIMESTAMP_BASE.search(name) else set()
        found: set[str] = set()
        for info in known:
            found |= info.fields
            for base in info.bases:
                found |= inherited(base, seen | {name})
        return found

    gaps = []
    for info in classes:
        if not info.is_table:
            continue
        available = set(info.fields).union(*(inherited(b, frozenset({info.node.name})) for b in info.bases))
        missing = tuple(t for t in TIMESTAMPS if t not in available)
        if missing:
            gaps.append(TimestampGap(info.path, info, missing))
    return gaps


@project_check(SKILL, "missing-timestamps", PY)
def missing_timestamps(sources: list[SourceFile]) -> Iterator[Finding]:
    """Mapped tables without created_at / updated_at (own or inherited)."""
    by_path = {s.path: s for s in sources}
    parsed = [(s.path, tree) for s in sources if (tree := try_parse(s)) is not None]
    for gap in timestamp_gaps(parsed):
        yield by_path[gap.path].finding(
            SKILL,
            "missing-timestamps",
            gap.model.node.lineno,
            f"model {gap.model.node.name} has no {' / '.join(gap.missing)} "
            "(neither declared nor inherited from a base in the file set)",
            Severity.WARNING,
            fixable=True,
        )


def _column_calls(node: ast.ClassDef) -> Iterator[tuple[str, ast.Call]]:
    """(attribute name, mapped_column/Column call) of the class body."""
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            name, value = statement.target.id, statement.value
        elif isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
            name, value = statement.targets[0].id, statement.value
        else:
            continue
        if isinstance(value, ast.Call) and call_name(value).rsplit(".", 1)[-1] in COLUMN_CALLS:
            # Column("db_name", ...) names the database column explicitly.
            yield string_value(value.args[0]) if value.args and string_value(value.args[0]) else name, value


def _indexed_leading_columns(source: SourceFile) -> set[str]:
    """Columns that lead an Index, unique or primary-key constraint anywhere in the module
    (__table_args__ or a module-level Index(...)): an index on them exists."""
    leading: set[str] = set()
    for node in nodes(source, ast.Call):
        position = INDEX_CALLS.get(call_name(node).rsplit(".", 1)[-1])
        if position is None or len(node.args) <= position:
            continue
        first = node.args[position]
        name = string_value(first) or (first.attr if isinstance(first, ast.Attribute) else "")
        if name:
            leading.add(name)
    return leading


@check(SKILL, "unindexed-foreign-key", PY)
def unindexed_foreign_key(source: SourceFile) -> Iterator[Finding]:
    """ForeignKey columns without an index (PostgreSQL does not index them by itself)."""
    indexed = _indexed_leading_columns(source)
    for node in nodes(source, ast.ClassDef):
        for column, call in _column_calls(node):
            has_foreign_key = any(call_name(a).endswith("ForeignKey") for a in call.args)
            covered = any(is_true(keyword(call, k)) for k in ("index", "primary_key", "unique"))
            if has_foreign_key and not covered and column not in indexed:
                yield source.finding(
                    SKILL,
                    "unindexed-foreign-key",
                    call.lineno,
                    f"foreign key {node.name}.{column} has no index; add index=True "
                    "(joins and ON DELETE scans need it)",
                    Severity.WARNING,
                )


@check(SKILL, "naive-datetime-column", PY)
def naive_datetime_column(source: SourceFile) -> Iterator[Finding]:
    """SQLAlchemy DateTime / TIMESTAMP column types without timezone=True."""
    imported = imports(source)
    called: set[int] = set()
    for node in nodes(source, ast.Call):
        if _is_datetime_type(node.func, imported):
            called.add(id(node.func))
            if not is_true(keyword(node, "timezone")):
                yield _naive(source, node.lineno, dotted_name(node.func))
    # A bare `DateTime` type (not called) is DateTime(timezone=False).
    for name in nodes(source, ast.Name, ast.Attribute):
        if id(name) not in called and isinstance(name.ctx, ast.Load) and _is_datetime_type(name, imported):
            yield _naive(source, name.lineno, dotted_name(name))


def _is_datetime_type(node: ast.expr, imported: dict[str, str]) -> bool:
    """Is `node` SQLAlchemy's DateTime or TIMESTAMP (and not pendulum's DateTime, say)?"""
    name = qualified_name(node, imported)
    return name.startswith("sqlalchemy.") and name.rsplit(".", 1)[-1] in NAIVE_TYPES


def _naive(source: SourceFile, line: int, name: str) -> Finding:
    return source.finding(
        SKILL,
        "naive-datetime-column",
        line,
        f"{name} column type without timezone=True stores naive datetimes; use DateTime(timezone=True)",
        Severity.WARNING,
    )
