"""SQL file checks (schema scripts and .sql migrations): timestamps and indexed foreign keys
in CREATE TABLE, guarded DROP TABLE, and SELECT *.

There is no SQL parser among the dependencies, so this is a small tokenizer of its own:
comments and string literals are blanked out first (keeping every offset, so line numbers
stay right), then CREATE TABLE bodies are split at top-level commas. That is enough for
the DDL generators and people write; dialect corners (triggers, procedures) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from services.skills.checks.base import Finding, Severity, SourceFile, check

SQL = ["sql"]
TIMESTAMPS = ("created_at", "updated_at")
HIDDEN = re.compile(r"--[^\n]*|/\*[\s\S]*?\*/|'(?:[^']|'')*'|\$(\w*)\$[\s\S]*?\$\1\$")
CREATE_TABLE = re.compile(
    r"\bcreate\s+(?P<temp>(?:global\s+|local\s+)?temp(?:orary)?\s+)?(?:unlogged\s+)?table\s+"
    r"(?:if\s+not\s+exists\s+)?(?P<name>[\w.\"`]+)\s*\(",
    re.IGNORECASE,
)
CREATE_INDEX = re.compile(
    r"\bcreate\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?(?:[\w.\"`]+\s+)?"
    r"on\s+(?:only\s+)?(?P<table>[\w.\"`]+)\s*(?:using\s+\w+\s*)?\(\s*(?P<column>[\w\"`]+)",
    re.IGNORECASE,
)
ALTER_TABLE = re.compile(
    r"\balter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?(?P<table>[\w.\"`]+)\s+(?P<rest>[^;]*)", re.IGNORECASE
)
LEADING_KEY = re.compile(
    r"\b(?:primary\s+key|unique(?:\s+key)?|index|(?<!foreign\s)key)\s*(?:[\w\"`]+\s*)?\(\s*(?P<column>[\w\"`]+)",
    re.IGNORECASE,
)
FOREIGN_KEY = re.compile(r"\bforeign\s+key\s*\(\s*(?P<column>[\w\"`]+)", re.IGNORECASE)
CONSTRAINT_START = re.compile(
    r"^(constraint|primary|foreign|unique|check|exclude|index|key|like|fulltext|spatial)\b", re.IGNORECASE
)
DROP_TABLE = re.compile(r"\bdrop\s+table\s+(?!if\s+exists\b)(?P<name>[\w.\"`]+)", re.IGNORECASE)
SELECT_STAR = re.compile(r"\bselect\s+(?:distinct\s+)?\*\s*\bfrom\b", re.IGNORECASE)


def masked(source: SourceFile) -> str:
    """The SQL with comments and string literals blanked (newlines kept)."""
    return source.cached(
        "sql.masked", lambda: HIDDEN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source.content)
    )


def line_of(text: str, offset: int) -> int:
    """The 1-based line of a character offset."""
    return text.count("\n", 0, offset) + 1


def identifier(name: str) -> str:
    """Unquoted, lower-case, without the schema: how tables and columns are compared."""
    return name.strip('"`').rsplit(".", 1)[-1].strip('"`').lower()


@dataclass(frozen=True)
class Table:
    """One CREATE TABLE statement, reduced to what the checks compare."""

    name: str
    line: int
    temporary: bool
    columns: dict[str, int]  # column -> line
    foreign_keys: dict[str, int]  # leading column of each foreign key -> line
    indexed: set[str]  # leading columns of the primary key, unique constraints and inline indexes


def tables(source: SourceFile) -> list[Table]:
    """The CREATE TABLE statements of the file, parsed once."""
    return source.cached("sql.tables", lambda: list(_tables(masked(source))))


def _tables(text: str) -> Iterator[Table]:
    for match in CREATE_TABLE.finditer(text):
        name = identifier(match.group("name"))
        table = Table(name, line_of(text, match.start()), bool(match.group("temp")), {}, {}, set())
        for offset, item in _split_top_level(text, match.end(), _closing_paren(text, match.end())):
            _add_item(table, item, line_of(text, offset))
        yield table


def _add_item(table: Table, item: str, line: int) -> None:
    """Record one column definition or table constraint of a CREATE TABLE body."""
    if CONSTRAINT_START.match(item):
        foreign, key = FOREIGN_KEY.search(item), LEADING_KEY.search(item)
        if foreign:
            table.foreign_keys[identifier(foreign.group("column"))] = line
        elif key:
            table.indexed.add(identifier(key.group("column")))
        return
    column = identifier(item.split()[0])
    table.columns[column] = line
    if re.search(r"\breferences\b", item, re.IGNORECASE):
        table.foreign_keys[column] = line
    if re.search(r"\b(primary\s+key|unique)\b", item, re.IGNORECASE):
        table.indexed.add(column)


def _closing_paren(text: str, start: int) -> int:
    depth = 1
    for position in range(start, len(text)):
        if text[position] == "(":
            depth += 1
        elif text[position] == ")":
            depth -= 1
            if depth == 0:
                return position
    return len(text)


def _split_top_level(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """(offset of the first non-blank character, item) of each comma-separated item."""
    depth, item_start = 0, start
    for position in range(start, end + 1):
        char = text[position] if position < end else ","
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            item = text[item_start:position]
            if item.strip():
                yield item_start + len(item) - len(item.lstrip()), item.strip()
            item_start = position + 1


def _indexes(text: str) -> set[tuple[str, str]]:
    """(table, leading column) of every CREATE INDEX and ALTER TABLE ... ADD key."""
    found = {
        (identifier(m.group("table")), identifier(m.group("column"))) for m in CREATE_INDEX.finditer(text)
    }
    for alter in ALTER_TABLE.finditer(text):
        for key in LEADING_KEY.finditer(alter.group("rest")):
            found.add((identifier(alter.group("table")), identifier(key.group("column"))))
    return found


def _altered_foreign_keys(text: str) -> Iterator[tuple[str, str, int]]:
    """(table, column, line) of foreign keys added with ALTER TABLE."""
    for alter in ALTER_TABLE.finditer(text):
        for foreign in FOREIGN_KEY.finditer(alter.group("rest")):
            yield (
                identifier(alter.group("table")),
                identifier(foreign.group("column")),
                line_of(text, alter.start()),
            )


@check("backend-models", "missing-timestamps", SQL)
def missing_timestamps(source: SourceFile) -> Iterator[Finding]:
    """CREATE TABLE without created_at / updated_at columns."""
    for table in tables(source):
        missing = [t for t in TIMESTAMPS if t not in table.columns]
        if missing and not table.temporary:
            yield source.finding(
                "backend-models",
                "missing-timestamps",
                table.line,
                f"table {table.name} has no {' / '.join(missing)} column (timestamptz NOT NULL DEFAULT now())",
                Severity.WARNING,
            )


@check("backend-models", "unindexed-foreign-key", SQL)
def unindexed_foreign_key(source: SourceFile) -> Iterator[Finding]:
    """Foreign key columns with no index leading on them in the same file."""
    text = masked(source)
    indexes = _indexes(text)
    keys = [
        (t.name, column, line, t.indexed) for t in tables(source) for column, line in t.foreign_keys.items()
    ]
    keys += [(table, column, line, set()) for table, column, line in _altered_foreign_keys(text)]
    for table, column, line, indexed in keys:
        if column not in indexed and (table, column) not in indexes:
            yield source.finding(
                "backend-models",
                "unindexed-foreign-key",
                line,
                f"foreign key {table}.{column} has no index; CREATE INDEX ON {table} ({column})",
                Severity.WARNING,
            )


@check("backend-migrations", "drop-table-without-if-exists", SQL)
def drop_table_without_if_exists(source: SourceFile) -> Iterator[Finding]:
    """DROP TABLE without IF EXISTS: the script fails when re-run or run out of order."""
    text = masked(source)
    for match in DROP_TABLE.finditer(text):
        yield source.finding(
            "backend-migrations",
            "drop-table-without-if-exists",
            line_of(text, match.start()),
            f"DROP TABLE {identifier(match.group('name'))} without IF EXISTS",
            Severity.WARNING,
        )


@check("backend-queries", "select-star", SQL)
def select_star(source: SourceFile) -> Iterator[Finding]:
    """SELECT * in SQL: select only the columns you need."""
    text = masked(source)
    for match in SELECT_STAR.finditer(text):
        yield source.finding(
            "backend-queries",
            "select-star",
            line_of(text, match.start()),
            "SELECT * fetches every column; name the columns the query uses",
            Severity.WARNING,
        )
