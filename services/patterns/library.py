"""The golden production pattern library: one YAML file per pattern under
services/patterns/library/ (any depth), loaded at every start.

A file holds: name (unique, kebab-case), category, language (python, dockerfile, toml,
yaml, text), framework, description, tags (list of strings), success_rate,
test_coverage, security_level, observability (numbers 0..1), docker_ready (bool) and
code (string). Any missing, mistyped, out-of-range or unknown field refuses the whole
library with InvalidArgument naming `<file>:<field>`, so the service does not start on a
malformed library.

Loading is idempotent: a pattern's id is a UUID derived from its name, and it is
re-embedded and upserted only when its content hash changed, keeping the usage
statistics it gathered; golden patterns whose file is gone are removed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from services.patterns import records
from services.patterns.domain import (
    CATEGORIES,
    LIBRARY_LANGUAGES,
    MAX_CODE,
    MAX_DESCRIPTION,
    MAX_FRAMEWORK,
    MAX_NAME,
    NAME_RE,
    PRIOR_WEIGHT,
    Pattern,
)
from services.patterns.runtime import PatternsRuntime
from services.patterns.store import PATTERNS, Where

GOLDEN = "golden"
REQUIRED = (
    "name",
    "category",
    "language",
    "framework",
    "description",
    "tags",
    "success_rate",
    "test_coverage",
    "security_level",
    "observability",
    "docker_ready",
    "code",
)


class _Refused(Exception):
    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(problem)
        self.field_name = field_name
        self.problem = problem


def _text(data: dict[str, Any], key: str, limit: int, allow_empty: bool = False) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise _Refused(key, f"must be a string, not {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise _Refused(key, "must not be empty")
    if len(value) > limit:
        raise _Refused(key, f"is longer than {limit} characters")
    return value.strip() if key != "code" else value


def _unit(data: dict[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise _Refused(key, f"must be a number between 0 and 1, not {value!r}")
    if not 0 <= value <= 1:
        raise _Refused(key, f"must be between 0 and 1 (got {value})")
    return float(value)


def parse_pattern(data: Any) -> Pattern:
    if not isinstance(data, dict):
        raise _Refused("(file)", f"must be a YAML mapping of fields, not {type(data).__name__}")
    for key in REQUIRED:
        if key not in data:
            raise _Refused(key, "is missing")
    unknown = sorted(str(k) for k in data if k not in REQUIRED)
    if unknown:
        raise _Refused(unknown[0], f"unknown field (known: {', '.join(REQUIRED)})")
    name = _text(data, "name", MAX_NAME)
    if not NAME_RE.match(name):
        raise _Refused("name", f"{name!r} is not kebab-case (a-z, 0-9, single dashes)")
    category = _text(data, "category", 50)
    if category not in CATEGORIES:
        raise _Refused("category", f"{category!r} is not one of {', '.join(CATEGORIES)}")
    language = _text(data, "language", 50)
    if language not in LIBRARY_LANGUAGES:
        raise _Refused("language", f"{language!r} is not one of {', '.join(LIBRARY_LANGUAGES)}")
    tags = data["tags"]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise _Refused("tags", "must be a list of non-empty strings")
    if not isinstance(data["docker_ready"], bool):
        raise _Refused("docker_ready", f"must be true or false, not {data['docker_ready']!r}")
    return Pattern(
        name=name,
        category=category,
        language=language,
        framework=_text(data, "framework", MAX_FRAMEWORK, allow_empty=True),
        description=_text(data, "description", MAX_DESCRIPTION),
        code=_text(data, "code", MAX_CODE),
        success_rate=_unit(data, "success_rate"),
        test_coverage=_unit(data, "test_coverage"),
        security_score=_unit(data, "security_level"),
        observability_score=_unit(data, "observability"),
        docker_ready=data["docker_ready"],
        tags=[t.strip() for t in tags],
        source=GOLDEN,
    )


def _refuse(path: Path, field_name: str, problem: str) -> InvalidArgument:
    return InvalidArgument(
        f"malformed pattern file {path}: field {field_name} {problem}",
        [FieldViolation(f"{path}:{field_name}", problem)],
    )


def load_library(directory: Path | None) -> list[Pattern]:
    """Every `**/*.yaml` under `directory`, checked; a missing or empty directory is an
    empty library. Raises InvalidArgument naming the first malformed file and field."""
    if directory is None or not directory.is_dir():
        return []
    patterns: list[Pattern] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problem = " ".join(str(error).split())
            raise _refuse(path, "(yaml)", f"is not valid YAML: {problem}") from None
        try:
            pattern = parse_pattern(data)
        except _Refused as refused:
            raise _refuse(path, refused.field_name, refused.problem) from None
        if pattern.name in seen:
            raise _refuse(path, "name", f"{pattern.name!r} is also the name in {seen[pattern.name]}")
        seen[pattern.name] = path
        patterns.append(pattern)
    return patterns


async def sync_library(rt: PatternsRuntime, patterns: list[Pattern]) -> dict[str, int]:
    """Upsert new and changed golden patterns, remove golden patterns no longer shipped."""
    existing = await rt.store.get(PATTERNS, [p.id for p in patterns])
    changed: list[tuple[Pattern, str, dict[str, Any] | None]] = []
    for p in patterns:
        digest = records.content_hash(p)
        old = existing.get(p.id)
        if old is None or old.get("content_hash") != digest:
            changed.append((p, digest, old))
    vectors = await rt.embedder.encode([p.embedding_text() for p, _, _ in changed])
    points = []
    for (p, digest, old), vector in zip(changed, vectors, strict=True):
        payload = records.pattern_payload(
            p,
            digest=digest,
            usage_count=int(old.get("usage_count", 0)) if old else 0,
            successes=int(old.get("successes", 0)) if old else 0,
            prior_weight=PRIOR_WEIGHT,
        )
        if old:
            payload["outcomes"] = old.get("outcomes", [])
        points.append((p.id, vector, payload))
    for start in range(0, len(points), 256):
        await rt.store.upsert(PATTERNS, points[start : start + 256])
    shipped = {p.id for p in patterns}
    stale: list[str] = []
    for hit in await rt.store.scroll(PATTERNS, Where(equals=(("source", GOLDEN),)), limit=100_000):
        if hit.id not in shipped:
            stale.append(hit.id)
    await rt.store.delete(PATTERNS, stale)
    added = sum(1 for _, _, old in changed if old is None)
    if added:
        rt.metrics.stored.labels(GOLDEN).inc(added)
    return {
        "patterns": len(patterns),
        "added": added,
        "updated": len(changed) - added,
        "unchanged": len(patterns) - len(changed),
        "removed": len(stale),
    }
