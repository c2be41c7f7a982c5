"""Validation of a set of files against skills: input checks, skipping, scoring.

Used by the servicer (Validate, ApplyStandards), by `devmatrix skills check` in process,
and by the benchmark. Checks are CPU-bound; callers on an event loop run `validate` in a
thread.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from devmatrix.runtime.errors import FieldViolation, InvalidArgument
from services.skills import checks
from services.skills.catalogue import Catalogue
from services.skills.checks.base import (
    LANGUAGE_BY_SUFFIX,
    MANIFEST_LANGUAGES,
    MAX_FILE_BYTES,
    SkillResult,
    Skipped,
    SourceFile,
    applicable_skills,
    language_of,
    score_skill,
)

# Enough for a generated project; a bigger request is a mistake or an abuse.
MAX_FILES = 5000
KNOWN_LANGUAGES = frozenset({*LANGUAGE_BY_SUFFIX.values(), *MANIFEST_LANGUAGES.values()})
assert checks.base  # the import registers every check


@dataclass(frozen=True)
class FileInput:
    path: str
    content: str
    # Overrides the suffix when set (a generator knows what it wrote).
    language: str = ""


@dataclass(frozen=True)
class Report:
    results: tuple[SkillResult, ...]
    skipped: tuple[Skipped, ...]
    overall_score: float
    passed: bool
    # How many files the checks looked at.
    files: int
    # Seconds each skill's checks took, aligned with `results`.
    seconds: tuple[float, ...] = ()


def check_path(path: str, index: int) -> str:
    """A relative POSIX path inside the project; anything else is InvalidArgument."""
    field_name = f"files[{index}].path"
    if not path.strip():
        raise InvalidArgument(
            f"{field_name} must not be empty", [FieldViolation(field_name, "must not be empty")]
        )
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\\" in path or "\x00" in path:
        problem = f"{path!r} must be a relative path inside the project (no '..', no leading '/')"
        raise InvalidArgument(f"{field_name}: {problem}", [FieldViolation(field_name, problem)])
    return str(pure)


def check_skill_names(catalogue: Catalogue, names: Sequence[str], field_name: str = "skills") -> list[str]:
    known = catalogue.by_name()
    chosen: list[str] = []
    for i, name in enumerate(names):
        if name not in known:
            problem = f"{name!r} is not a skill; `devmatrix skills list` shows the 17"
            raise InvalidArgument(
                f"{field_name}[{i}]: {problem}", [FieldViolation(f"{field_name}[{i}]", problem)]
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


def prepare(files: Sequence[FileInput]) -> tuple[list[SourceFile], list[Skipped]]:
    """Source files to check and the files left out, with why. Bad paths raise."""
    if not files:
        raise InvalidArgument("files must not be empty", [FieldViolation("files", "give at least one file")])
    if len(files) > MAX_FILES:
        raise InvalidArgument(
            f"{len(files)} files is more than {MAX_FILES}", [FieldViolation("files", f"at most {MAX_FILES}")]
        )
    sources: list[SourceFile] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for i, f in enumerate(files):
        path = check_path(f.path, i)
        if path in seen:
            problem = f"{path!r} appears more than once"
            raise InvalidArgument(
                f"files[{i}].path: {problem}", [FieldViolation(f"files[{i}].path", problem)]
            )
        seen.add(path)
        language = f.language if f.language in KNOWN_LANGUAGES else language_of(path)
        reason = skip_reason(f.content, language)
        if reason:
            skipped.append(Skipped(path, reason))
        else:
            sources.append(SourceFile(path, f.content, language))
    return sources, skipped


def skip_reason(content: str, language: str) -> str:
    if "\x00" in content:
        return "binary content"
    size = len(content.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        return f"{size} bytes is over the {MAX_FILE_BYTES}-byte limit for checked files"
    if not language:
        return "no checks for this file type"
    return ""


def validate(catalogue: Catalogue, files: Sequence[FileInput], skills: Sequence[str] = ()) -> Report:
    """Score `files` against `skills`, or against every skill with checks for them."""
    chosen = check_skill_names(catalogue, skills)
    sources, skipped = prepare(files)
    names = chosen or applicable_skills(sources)
    by_name = catalogue.by_name()
    results: list[SkillResult] = []
    seconds: list[float] = []
    for name in names:
        started = time.perf_counter()
        results.append(score_skill(name, by_name[name].threshold, sources))
        seconds.append(time.perf_counter() - started)
    overall = sum(r.score for r in results) / len(results) if results else 1.0
    return Report(
        tuple(results),
        tuple(skipped),
        round(overall, 4),
        all(r.passed for r in results),
        len(sources),
        tuple(seconds),
    )
