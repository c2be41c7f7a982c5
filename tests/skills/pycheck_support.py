"""Helpers for the tests of the Python and SQL checks: build SourceFiles from snippets and
run one registered check the way score_skill does (syntax errors included)."""

from __future__ import annotations

from textwrap import dedent

from services.skills import checks
from services.skills.checks.base import REGISTRY, Check, Finding, SourceFile, language_of, run_check

assert checks.python  # importing the package registers the checks

# Manifests have no checked language of their own; the dependency check takes them as these.
MANIFEST_LANGUAGES = {"pyproject.toml": "toml"}


def source(path: str, code: str) -> SourceFile:
    """A SourceFile of a dedented snippet; the first line of the snippet is line 1."""
    language = language_of(path) or MANIFEST_LANGUAGES.get(path.rsplit("/", 1)[-1], "text")
    return SourceFile(path, dedent(code).lstrip("\n"), language)


def registered(skill: str, rule: str, language: str) -> Check:
    return next(c for c in REGISTRY if c.skill == skill and c.rule == rule and language in c.languages)


def run_rule(skill: str, rule: str, files: dict[str, str]) -> list[Finding]:
    """The findings of the check skill/rule over the files (path -> snippet)."""
    sources = [source(path, code) for path, code in files.items()]
    language = next(s.language for s in sources if s.language in ("python", "sql"))
    found: list[Finding] = []
    c = registered(skill, rule, language)
    if c.project:
        found = list(c.function([s for s in sources if c.applies_to(s)]))
    else:
        for s in sources:
            if c.applies_to(s):
                found += run_check(c, s)
    return [f for f in found if f.rule in (rule, "syntax-error")]


def summary(findings: list[Finding]) -> list[tuple[str, str, str, int]]:
    """(skill, rule, path, line) of each finding, for exact comparisons."""
    return [(f.skill, f.rule, f.path, f.line) for f in findings]
