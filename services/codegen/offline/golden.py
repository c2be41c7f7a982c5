"""The golden pattern library as the source of generated code.

Each golden pattern's `code` starts with `# <path>` and is one module of a FastAPI +
SQLAlchemy project laid out as `app/core/...`, `app/api/...`, `alembic/...`. The
generated project follows the planner's layout instead (`app/config.py`, `app/db.py`,
`app/errors.py`, `app/routes/...`, `migrations/...`), so every golden module is
adapted the same two ways: `MODULE_MOVES` rewrites module paths, and `edit` applies
exact text replacements that fail loudly when the golden text changed, so a library
edit can never silently produce a different project than the tests saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import services.patterns

LIBRARY_DIR = Path(services.patterns.__file__).parent / "library"

# Golden module path -> generated module path (dotted names; file paths follow).
MODULE_MOVES: tuple[tuple[str, str], ...] = (
    ("app.core.config", "app.config"),
    ("app.db.session", "app.db"),
    ("app.api.errors", "app.errors"),
    ("app.api.deps", "app.deps"),
    ("app.api.routes", "app.routes"),
)


class GoldenPatternChanged(RuntimeError):
    """A golden pattern no longer contains the text an adaptation replaces."""


@dataclass(frozen=True)
class GoldenPattern:
    name: str
    category: str
    path: str
    code: str  # without the `# <path>` header line


@lru_cache(maxsize=4)
def load_golden(directory: Path = LIBRARY_DIR) -> dict[str, GoldenPattern]:
    """Golden patterns by name, through the patterns service's own validating loader."""
    # Imported here: the loader's module pulls in the vector store client, which only
    # composing a project needs, not importing the generator.
    from services.patterns.library import load_library

    patterns: dict[str, GoldenPattern] = {}
    for pattern in load_library(directory):
        header, _, body = pattern.code.partition("\n")
        path = header.lstrip("#").strip()
        patterns[pattern.name] = GoldenPattern(pattern.name, pattern.category, path, body.lstrip("\n"))
    return patterns


def edit(pattern: str, code: str, *replacements: tuple[str, str]) -> str:
    """Apply exact (old, new) replacements; every `old` must occur in `code`."""
    for old, new in replacements:
        if old not in code:
            raise GoldenPatternChanged(f"golden pattern {pattern!r} no longer contains {old[:80]!r}")
        code = code.replace(old, new)
    return code


def move_modules(code: str) -> str:
    """Rewrite golden module paths to the generated project's layout."""
    for old, new in MODULE_MOVES:
        code = code.replace(old, new)
    return _sort_first_party(code)


def _sort_first_party(code: str) -> str:
    """Re-sort runs of single-line `from app... import` lines, as isort orders moved modules."""
    lines = code.split("\n")
    start = 0
    while start < len(lines):
        if not _first_party(lines[start]):
            start += 1
            continue
        end = start
        while end < len(lines) and _first_party(lines[end]):
            end += 1
        lines[start:end] = sorted(lines[start:end], key=lambda line: line.split()[1])
        start = end
    return "\n".join(lines)


def _first_party(line: str) -> bool:
    return line.startswith("from app.") and not line.rstrip().endswith("(")


def cut(pattern: str, code: str, start: str, end: str | None = None) -> str:
    """Remove the text from `start` up to (not including) `end`, or to the end."""
    begin = code.find(start)
    if begin < 0:
        raise GoldenPatternChanged(f"golden pattern {pattern!r} no longer contains {start[:80]!r}")
    if end is None:
        return code[:begin].rstrip("\n") + "\n"
    stop = code.find(end, begin)
    if stop < 0:
        raise GoldenPatternChanged(f"golden pattern {pattern!r} no longer contains {end[:80]!r}")
    return code[:begin] + code[stop:]


def section(pattern: str, code: str, start: str, end: str | None = None) -> str:
    """The text from `start` up to (not including) `end`, or to the end."""
    begin = code.find(start)
    if begin < 0:
        raise GoldenPatternChanged(f"golden pattern {pattern!r} no longer contains {start[:80]!r}")
    stop = len(code) if end is None else code.find(end, begin)
    if stop < 0:
        raise GoldenPatternChanged(f"golden pattern {pattern!r} no longer contains {end[:80]!r}")
    return code[begin:stop]
