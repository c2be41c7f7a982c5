"""Corpora, statistics, and the skills-check and fix measurements of the skills and
codegen benchmark (run it as `python -m tests.benchmarks.skills_codegen`)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

import services.skills.checks  # noqa: F401 - registers every check
from services.codegen.domain import SpecDesign
from services.codegen.offline import ComposedProject, design_from_parsed
from services.codegen.offline.golden import LIBRARY_DIR
from services.orchestrator.domain import PlannedTask, TaskType
from services.orchestrator.planner import build_plan
from services.orchestrator.spec_parser import parse_markdown
from services.patterns.library import load_library
from services.skills.catalogue import Catalogue
from services.skills.checks.base import SourceFile, checks_of, score_skill
from services.skills.fixes import apply_fixes
from services.skills.validation import FileInput, prepare, validate

ROOT = Path(__file__).resolve().parents[2]
SPECS = {"task_api": "task_api.md", "blog_ui": "blog_ui.md"}
KIND_ORDER = ("MODEL", "MIGRATION", "CRUD", "API", "TEST", "CONFIG", "DEPLOY", "DOCS", "GENERIC", "UI")
PARTS = ("skills", "fixes", "codegen", "quality", "anthropic")
# Generated gRPC stubs are not source anyone writes; ruff's own config leaves them out too.
REPO_EXCLUDED = ("devmatrix/v1/",)
QUICK_FIX_SAMPLE = 15

console = Console(width=160)


# --------------------------------------------------------------------------- statistics


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else 0.0


def p95(samples: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.2f}"


def num(value: float) -> str:
    return f"{value:,.0f}"


def lines_of(text: str) -> int:
    return len(text.splitlines())


# --------------------------------------------------------------------------- corpora


@dataclass(frozen=True)
class Corpus:
    name: str
    description: str
    files: tuple[tuple[str, str], ...]  # (relative path, content), checkable or not

    def inputs(self) -> list[FileInput]:
        return [FileInput(path, content) for path, content in self.files]

    def sources(self) -> list[SourceFile]:
        """Fresh SourceFile objects (no cached parse) for the checkable files, as Validate builds them."""
        return prepare(self.inputs())[0]


@dataclass(frozen=True)
class SpecUnderTest:
    name: str
    design: SpecDesign
    tasks: tuple[PlannedTask, ...]
    parse_plan_seconds: float


def load_spec(name: str, filename: str) -> SpecUnderTest:
    text = (ROOT / "examples" / "specs" / filename).read_text()
    started = time.perf_counter()
    parsed = parse_markdown(text)
    plan = build_plan(parsed)
    elapsed = time.perf_counter() - started
    tasks = tuple(t for t in plan.tasks if t.type == TaskType.TASK)
    return SpecUnderTest(name, design_from_parsed(parsed, spec_id=filename), tasks, elapsed)


def golden_corpus() -> Corpus:
    files = []
    for pattern in load_library(LIBRARY_DIR):
        header, _, body = pattern.code.partition("\n")
        files.append((header.lstrip("#").strip(), body.lstrip("\n")))
    return Corpus("golden", f"golden pattern library ({len(files)} patterns)", tuple(files))


def project_corpus(name: str, project: ComposedProject) -> Corpus:
    return Corpus(
        name,
        f"offline project composed for {SPECS[name]}",
        tuple((f.path, f.content) for f in project.files),
    )


def repo_corpus() -> Corpus:
    paths = sorted(
        p
        for folder in ("services", "devmatrix")
        for p in (ROOT / folder).rglob("*.py")
        if not str(p.relative_to(ROOT)).startswith(REPO_EXCLUDED)
    )
    paths += [ROOT / "pyproject.toml", ROOT / "requirements.txt"]
    files = tuple((str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in paths)
    return Corpus("repo", "this repository's services/ + devmatrix/ Python and its manifests", files)


# --------------------------------------------------------------------------- 1. skills checks


@dataclass
class CorpusFigure:
    corpus: str
    description: str
    files: int
    checkable: int
    skipped: int
    lines_checkable: int
    test_files: int


@dataclass
class SkillFigure:
    corpus: str
    skill: str
    files: int  # checkable files of the languages the skill has checks for
    lines: int
    units: int  # (check, file) pairs
    cold_median_s: float
    cold_min_s: float
    cold_max_s: float
    warm_median_s: float
    cold_files_per_s: float
    cold_lines_per_s: float
    warm_files_per_s: float
    warm_lines_per_s: float
    score: float
    passed: bool
    findings: int


@dataclass
class ValidateFigure:
    corpus: str
    files: int
    skipped: int
    lines: int
    median_s: float
    min_s: float
    max_s: float
    files_per_s: float
    lines_per_s: float
    overall_score: float
    passed: bool
    skill_seconds: dict[str, float]


def skill_languages(skill: str) -> frozenset[str]:
    return frozenset().union(*(c.languages for c in checks_of(skill)))


def describe_corpus(corpus: Corpus) -> CorpusFigure:
    sources, skipped = prepare(corpus.inputs())
    return CorpusFigure(
        corpus.name,
        corpus.description,
        len(corpus.files),
        len(sources),
        len(skipped),
        sum(lines_of(s.content) for s in sources),
        sum(s.is_test for s in sources),
    )


def bench_skills(corpus: Corpus, catalogue: Catalogue, runs: int) -> list[SkillFigure]:
    figures: list[SkillFigure] = []
    # Warm: one shared file set whose every parse is cached by a first pass over all skills.
    shared = corpus.sources()
    for skill in catalogue.skills:
        score_skill(skill.name, skill.threshold, shared)
    for skill in catalogue.skills:
        languages = skill_languages(skill.name)
        applicable = [s for s in shared if s.language in languages]
        if not applicable:
            continue
        lines = sum(lines_of(s.content) for s in applicable)
        cold: list[float] = []
        result = None
        for _ in range(runs):
            fresh = corpus.sources()
            started = time.perf_counter()
            result = score_skill(skill.name, skill.threshold, fresh)
            cold.append(time.perf_counter() - started)
        warm: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            score_skill(skill.name, skill.threshold, shared)
            warm.append(time.perf_counter() - started)
        assert result is not None
        figures.append(
            SkillFigure(
                corpus=corpus.name,
                skill=skill.name,
                files=len(applicable),
                lines=lines,
                units=result.units,
                cold_median_s=median(cold),
                cold_min_s=min(cold),
                cold_max_s=max(cold),
                warm_median_s=median(warm),
                cold_files_per_s=rate(len(applicable), median(cold)),
                cold_lines_per_s=rate(lines, median(cold)),
                warm_files_per_s=rate(len(applicable), median(warm)),
                warm_lines_per_s=rate(lines, median(warm)),
                score=result.score,
                passed=result.passed,
                findings=len(result.findings),
            )
        )
    return figures


def bench_validate(corpus: Corpus, catalogue: Catalogue, runs: int) -> ValidateFigure:
    inputs = corpus.inputs()
    samples: list[float] = []
    report = None
    for _ in range(runs):
        started = time.perf_counter()
        report = validate(catalogue, inputs)
        samples.append(time.perf_counter() - started)
    assert report is not None
    lines = sum(lines_of(s.content) for s in corpus.sources())
    return ValidateFigure(
        corpus=corpus.name,
        files=report.files,
        skipped=len(report.skipped),
        lines=lines,
        median_s=median(samples),
        min_s=min(samples),
        max_s=max(samples),
        files_per_s=rate(report.files, median(samples)),
        lines_per_s=rate(lines, median(samples)),
        overall_score=report.overall_score,
        passed=report.passed,
        skill_seconds={r.skill: s for r, s in zip(report.results, report.seconds, strict=True)},
    )


def combined_skills(figures: list[SkillFigure]) -> list[dict[str, Any]]:
    """Per skill over every corpus: total files and lines over the summed median seconds."""
    rows: list[dict[str, Any]] = []
    for skill in dict.fromkeys(f.skill for f in figures):
        of = [f for f in figures if f.skill == skill]
        files, lines = sum(f.files for f in of), sum(f.lines for f in of)
        cold, warm = sum(f.cold_median_s for f in of), sum(f.warm_median_s for f in of)
        rows.append(
            {
                "skill": skill,
                "files": files,
                "lines": lines,
                "cold_files_per_s": rate(files, cold),
                "cold_lines_per_s": rate(lines, cold),
                "warm_files_per_s": rate(files, warm),
                "warm_lines_per_s": rate(lines, warm),
            }
        )
    return rows


# --------------------------------------------------------------------------- fixes


@dataclass
class FixFigure:
    corpus: str
    python_files_timed: int
    per_file_median_s: float
    per_file_p95_s: float
    per_file_files_per_s: float
    whole_files: int
    whole_median_s: float
    whole_fixes: int
    whole_files_changed: int


def bench_fixes(corpus: Corpus, runs: int, sample: int | None) -> FixFigure:
    python = [(p, c) for p, c in corpus.files if p.endswith(".py")]
    if sample is not None and len(python) > sample:
        step = len(python) / sample
        python = [python[int(i * step)] for i in range(sample)]
    per_file: list[float] = []
    for item in python:
        started = time.perf_counter()
        apply_fixes([item])
        per_file.append(time.perf_counter() - started)
    whole: list[float] = []
    result = None
    files = list(corpus.files)
    for _ in range(runs):
        started = time.perf_counter()
        result = apply_fixes(files)
        whole.append(time.perf_counter() - started)
    assert result is not None
    changed = sum(before != after for before, after in zip(files, result.files, strict=True))
    return FixFigure(
        corpus=corpus.name,
        python_files_timed=len(python),
        per_file_median_s=median(per_file),
        per_file_p95_s=p95(per_file),
        per_file_files_per_s=rate(len(per_file), sum(per_file)),
        whole_files=len(files),
        whole_median_s=median(whole),
        whole_fixes=len(result.fixes),
        whole_files_changed=changed,
    )
