"""The golden library loader: good files, malformed files refused with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from devmatrix.runtime.errors import InvalidArgument
from services.patterns.library import load_library, sync_library
from services.patterns.runtime import PatternsRuntime
from services.patterns.store import PATTERNS
from tests.patterns.conftest import SAMPLES, pattern_file, sample_library

GOOD = SAMPLES[2]


def refused(directory: Path) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        load_library(directory)
    [violation] = caught.value.violations
    return violation.field, str(caught.value)


def test_good_library_loads_every_file(tmp_path: Path) -> None:
    patterns = load_library(sample_library(tmp_path))
    assert sorted(p.name for p in patterns) == sorted(s["name"] for s in SAMPLES)
    jwt = next(p for p in patterns if p.name == "jwt-auth-login")
    assert jwt.source == "golden" and jwt.category == "security" and "jwt" in jwt.tags
    assert jwt.security_score == 0.9 and jwt.observability_score == 0.8
    assert load_library(tmp_path / "missing") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "frontend"}, "category"),
        ({"language": "cobol"}, "language"),
        ({"success_rate": 1.5}, "success_rate"),
        ({"test_coverage": "high"}, "test_coverage"),
        ({"docker_ready": "yes"}, "docker_ready"),
        ({"tags": "auth"}, "tags"),
        ({"name": "Not Kebab"}, "name"),
        ({"code": ""}, "code"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_malformed_field_is_named_with_its_file(tmp_path: Path, change: dict, field: str) -> None:
    pattern_file(tmp_path, GOOD)
    bad = pattern_file(tmp_path / "sub", GOOD | {"name": "other"} | change, name="bad")
    where, message = refused(tmp_path)
    assert where == f"{bad}:{field}"
    assert str(bad) in message and field in message


def test_missing_field_and_bad_yaml_and_duplicates(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    missing.write_text("name: no-code\ncategory: api\n")
    assert refused(tmp_path)[0] == f"{missing}:language"
    missing.write_text("name: [unclosed\n")
    assert refused(tmp_path)[0] == f"{missing}:(yaml)"
    missing.write_text("- a list\n")
    assert refused(tmp_path)[0] == f"{missing}:(file)"
    missing.unlink()
    pattern_file(tmp_path, GOOD, name="a")
    second = pattern_file(tmp_path, GOOD, name="b")
    assert refused(tmp_path)[0] == f"{second}:name"


async def test_sync_is_idempotent_and_follows_changes(rt: PatternsRuntime, tmp_path: Path) -> None:
    library = sample_library(tmp_path / "lib")
    first = await sync_library(rt, load_library(library))
    assert first == {"patterns": 3, "added": 3, "updated": 0, "unchanged": 0, "removed": 0}
    assert await sync_library(rt, load_library(library)) == {
        "patterns": 3,
        "added": 0,
        "updated": 0,
        "unchanged": 3,
        "removed": 0,
    }
    assert await rt.store.count(PATTERNS) == 3
    pattern_file(library / "repositories", GOOD | {"description": "Changed description of the repository."})
    (library / "project" / "css-grid-layout.yaml").unlink()
    third = await sync_library(rt, load_library(library))
    assert third == {"patterns": 2, "added": 0, "updated": 1, "unchanged": 1, "removed": 1}
    assert await rt.store.count(PATTERNS) == 2
