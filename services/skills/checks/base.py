"""The check framework: source files in, findings out, one score per skill.

A check is a function registered with `@check(skill, rule, languages)`. It receives one
parsed `SourceFile` and yields `Finding`s. The framework parses each file once (Python
AST, tree-sitter tree, ruff diagnostics are computed lazily and cached on the file), turns
an unparsable file into a `syntax-error` finding for each skill whose checks needed the
parse, and scores each skill.

Scoring: every (check, file) pair a skill applies to is one unit. A unit with an ERROR
finding costs 1, with only WARNINGs 0.5, with only INFOs 0.1. The score is
1 - cost / units, and the skill passes when the score reaches its catalogue threshold.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from devmatrix.standards import SKILL_NAMES

# Files above this size are skipped: checks are for source, not data dumps.
MAX_FILE_BYTES = 512 * 1024

LANGUAGE_BY_SUFFIX: dict[str, str] = {
    ".py": "python",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".css": "css",
    ".html": "html",
    ".htm": "html",
    ".sql": "sql",
}


# pytest's `*_test.py`, jest's and vitest's `*.test.*` and `*.spec.*`.
TEST_NAME = re.compile(r"(_test\.py|\.(test|spec)\.[cm]?[jt]sx?)$")


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3


SEVERITY_COST = {Severity.ERROR: 1.0, Severity.WARNING: 0.5, Severity.INFO: 0.1}


@dataclass(frozen=True)
class Finding:
    skill: str
    rule: str
    path: str
    line: int
    message: str
    severity: Severity = Severity.ERROR
    fixable: bool = False


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


class ParseFailed(Exception):
    """A check needed a parse of a file that does not parse; carries the first bad line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


# Dependency manifests, checked against the imports (global-tech-stack).
MANIFEST_LANGUAGES = {"pyproject.toml": "toml", "requirements.txt": "text"}
REQUIREMENTS_NAME = re.compile(r"^requirements[\w.-]*\.txt$")


def language_of(path: str) -> str:
    """The checked language of a path, by suffix or manifest name; "" when no checks apply."""
    name = PurePosixPath(path).name
    if name in MANIFEST_LANGUAGES:
        return MANIFEST_LANGUAGES[name]
    if REQUIREMENTS_NAME.match(name):
        return "text"
    return LANGUAGE_BY_SUFFIX.get(PurePosixPath(path).suffix.lower(), "")


@dataclass
class SourceFile:
    """One file under check. Parses are lazy and cached: a check that needs none costs none.

    `cache` is for parsers defined in other modules (tree-sitter, ruff): each stores its
    result under its own key so the file is parsed once whatever the number of checks.
    """

    path: str
    content: str
    language: str
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def lines(self) -> list[str]:
        return self.content.splitlines()

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def is_test(self) -> bool:
        """Test modules by the usual conventions of pytest, jest and vitest."""
        parts = PurePosixPath(self.path).parts
        name = self.name
        return (
            name.startswith("test_")
            or bool(TEST_NAME.search(name))
            or "tests" in parts[:-1]
            or "__tests__" in parts[:-1]
        ) and name != "conftest.py"

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def finding(
        self,
        skill: str,
        rule: str,
        line: int,
        message: str,
        severity: Severity = Severity.ERROR,
        fixable: bool = False,
    ) -> Finding:
        return Finding(skill, rule, self.path, max(line, 1), message, severity, fixable)


CheckFunction = Callable[[SourceFile], Iterable[Finding]]
# A project check sees every file of its languages at once (a test for each module, imports
# against the manifest); it is scored like a file check, one unit per file it looked at.
ProjectCheckFunction = Callable[[list[SourceFile]], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    skill: str
    rule: str
    languages: frozenset[str]
    function: Callable[..., Iterable[Finding]]
    summary: str
    project: bool = False

    def applies_to(self, source: SourceFile) -> bool:
        return source.language in self.languages


REGISTRY: list[Check] = []


def _register(
    skill: str, rule: str, languages: Iterable[str], function: Callable[..., Any], project: bool
) -> None:
    if skill not in SKILL_NAMES:
        raise ValueError(f"unknown skill {skill!r}")
    if any(c.skill == skill and c.rule == rule and c.languages & set(languages) for c in REGISTRY):
        raise ValueError(f"check {skill}/{rule} registered twice for one language")
    summary = (function.__doc__ or rule).strip().splitlines()[0]
    REGISTRY.append(Check(skill, rule, frozenset(languages), function, summary, project))


def check(skill: str, rule: str, languages: Iterable[str]) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as the check `rule` of `skill` for `languages`; the
    first line of its docstring is the check's summary. One rule may have a function per
    language (Python and TypeScript versions of `bare-except`, say)."""

    def register(function: CheckFunction) -> CheckFunction:
        _register(skill, rule, languages, function, project=False)
        return function

    return register


def project_check(
    skill: str, rule: str, languages: Iterable[str]
) -> Callable[[ProjectCheckFunction], ProjectCheckFunction]:
    """Like `check`, for a function that needs every file of its languages at once."""

    def register(function: ProjectCheckFunction) -> ProjectCheckFunction:
        _register(skill, rule, languages, function, project=True)
        return function

    return register


def checks_of(skill: str) -> list[Check]:
    return [c for c in REGISTRY if c.skill == skill]


@dataclass(frozen=True)
class SkillResult:
    skill: str
    score: float
    passed: bool
    threshold: float
    findings: tuple[Finding, ...]
    units: int


def run_check(c: Check, source: SourceFile) -> list[Finding]:
    """The findings of one check on one file; an unparsable file is one syntax-error."""
    try:
        return list(c.function(source))
    except ParseFailed as failed:
        return [source.finding(c.skill, "syntax-error", failed.line, f"does not parse: {failed.message}")]


def run_project_check(c: Check, sources: list[SourceFile]) -> tuple[int, float, list[Finding]]:
    """Units, cost and findings of a project check over the files it applies to. A file
    that does not parse is left to the file checks, which report it."""
    applicable = [s for s in sources if c.applies_to(s)]
    if not applicable:
        return 0, 0.0, []
    try:
        found = list(c.function(applicable))
    except ParseFailed:
        found = []
    by_path: dict[str, list[Finding]] = {}
    for f in found:
        by_path.setdefault(f.path, []).append(f)
    return len(applicable), sum(unit_cost(fs) for fs in by_path.values()), found


def unit_cost(findings: list[Finding]) -> float:
    if not findings:
        return 0.0
    return SEVERITY_COST[max(f.severity for f in findings)]


def score_skill(skill: str, threshold: float, sources: list[SourceFile]) -> SkillResult:
    """Run every check of `skill` on every file it applies to and score the result."""
    findings: list[Finding] = []
    units, cost = 0, 0.0
    for c in checks_of(skill):
        if c.project:
            project_units, project_cost, found = run_project_check(c, sources)
            units, cost = units + project_units, cost + project_cost
            findings.extend(found)
    for source in sources:
        syntax_reported = False
        for c in checks_of(skill):
            if c.project or not c.applies_to(source):
                continue
            units += 1
            found = run_check(c, source)
            if found and found[0].rule == "syntax-error":
                # One syntax-error per file and skill, however many checks needed the parse.
                cost += 1.0
                if not syntax_reported:
                    findings.extend(found)
                    syntax_reported = True
                continue
            cost += unit_cost(found)
            findings.extend(found)
    score = 1.0 if units == 0 else max(0.0, 1.0 - cost / units)
    findings.sort(key=lambda f: (f.path, f.line, f.rule))
    return SkillResult(skill, round(score, 4), score >= threshold, threshold, tuple(findings), units)


def applicable_skills(sources: list[SourceFile]) -> list[str]:
    """The skills with at least one check for at least one of the files, in catalogue order."""
    languages = {s.language for s in sources}
    return [name for name in SKILL_NAMES if any(c.languages & languages for c in checks_of(name))]


def iter_rules() -> Iterator[tuple[str, str, str]]:
    """(skill, rule, summary) of every registered check, for `skills list` and docs."""
    for c in REGISTRY:
        yield c.skill, c.rule, c.summary
