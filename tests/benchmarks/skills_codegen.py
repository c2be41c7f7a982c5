"""Skills checks and code generation benchmarks, in process (no gRPC, no model).

    .venv/bin/python -m tests.benchmarks.skills_codegen [--runs 3] [--quick] [--postgres]
        [--json PATH] [--markdown PATH] [--skip skills fixes codegen quality anthropic]

Corpora: the golden pattern library (services/patterns/library, each pattern's `code`
at the path its `# <path>` header names), the projects the offline generator composes
for examples/specs/task_api.md and blog_ui.md, and this repository's own services/ and
devmatrix/ Python (generated stubs left out) with its pyproject.toml and requirements.txt.

1. Skills checks: for each skill and corpus, `score_skill` files/s and lines/s (median
   of --runs). COLD is reported: fresh SourceFile objects every run, so the skill pays
   for every parse it needs (AST, tree-sitter, one `ruff check` subprocess per Python
   file), which is what a request asking for that skill alone costs. WARM (every parse
   already cached on the files) is the checks' own cost. Then the whole
   `validation.validate` per corpus (one Validate RPC, parses shared between skills),
   and `fixes.apply_fixes` (ApplyStandards) per Python file and per corpus.
2. Offline generation: the golden library load, the whole-project compose per spec, and
   per task kind the time of `OfflineGenerator().generate` over every planned task of
   both specs: cold (a fresh generator per call, so each call composes the project) and
   warm (one generator that already holds the spec's composition).
3. Quality of the offline output: the share of checkable generated files with no skill
   finding at all (target 100%), each skill's score over the project, the files
   ApplyStandards would still change, and the project's own pytest suite run in a
   subprocess on SQLite (and on a pgserver PostgreSQL with --postgres) (target: all pass).
4. The Anthropic generator against tests/fixtures/anthropic_server.py: prompt building,
   answer parsing and the round trip through the SDK to a LOCAL server that answers at
   once. This is the generator's own overhead, not model latency.

Not part of the test suite: figures are printed (and written as JSON with --json),
nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import services.skills.checks  # noqa: F401 - registers every check
from devmatrix.runtime.errors import FailedPrecondition
from services.codegen.domain import GenerationRequest, PatternRef, SkillGuide, SpecDesign, TaskInfo
from services.codegen.offline import ComposedProject, OfflineGenerator, compose, design_from_parsed
from services.codegen.offline.golden import LIBRARY_DIR, load_golden
from services.orchestrator.domain import PlannedTask, TaskType
from services.orchestrator.planner import build_plan
from services.orchestrator.spec_parser import parse_markdown
from services.patterns.library import load_library
from services.skills.catalogue import Catalogue, load_catalogue
from services.skills.checks.base import SourceFile, checks_of, score_skill
from services.skills.checks.python.source import ruff_binary
from services.skills.fixes import apply_fixes
from services.skills.validation import FileInput, prepare, validate
from tests.codegen.support import run_tests, write_project

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


# --------------------------------------------------------------------------- 2. offline generation


@dataclass
class ComposeFigure:
    spec: str
    tasks: int
    files: int
    parse_plan_s: float
    median_s: float
    p95_s: float


@dataclass
class KindFigure:
    kind: str
    tasks: int
    generated: int
    refused: int
    files_median: float
    cold_median_s: float
    cold_p95_s: float
    warm_median_s: float
    warm_p95_s: float


@dataclass
class Sample:
    kind: str
    key: str
    spec: str
    seconds: float
    files: int
    refused: bool


def task_info(task: PlannedTask) -> TaskInfo:
    return TaskInfo(
        id=task.key,
        key=task.key,
        kind=task.kind.value,
        name=task.name,
        description=task.description,
        acceptance_criteria=tuple(task.acceptance_criteria),
        expected_output=task.expected_output,
    )


async def timed_generate(generator: OfflineGenerator, spec: SpecUnderTest, task: PlannedTask) -> Sample:
    request = GenerationRequest(task=task_info(task), spec=spec.design)
    started = time.perf_counter()
    try:
        generation = await generator.generate(request)
    except FailedPrecondition:
        return Sample(task.kind.value, task.key, spec.name, time.perf_counter() - started, 0, True)
    return Sample(
        task.kind.value, task.key, spec.name, time.perf_counter() - started, len(generation.files), False
    )


async def generation_samples(specs: list[SpecUnderTest], runs: int) -> tuple[list[Sample], list[Sample]]:
    cold: list[Sample] = []
    warm: list[Sample] = []
    for _ in range(runs):
        for spec in specs:
            for task in spec.tasks:
                cold.append(await timed_generate(OfflineGenerator(), spec, task))
    for spec in specs:
        generator = OfflineGenerator()
        generator.project(spec.design)
        for _ in range(runs):
            for task in spec.tasks:
                warm.append(await timed_generate(generator, spec, task))
    return cold, warm


def bench_compose(spec: SpecUnderTest, runs: int) -> ComposeFigure:
    project = compose(spec.design)
    samples = []
    for _ in range(max(runs, 5)):
        started = time.perf_counter()
        compose(spec.design)
        samples.append(time.perf_counter() - started)
    return ComposeFigure(
        spec.name,
        len(spec.tasks),
        len(project.files),
        spec.parse_plan_seconds,
        median(samples),
        p95(samples),
    )


def bench_library_load(runs: int) -> float:
    samples = []
    for _ in range(runs):
        load_golden.cache_clear()
        started = time.perf_counter()
        load_golden(LIBRARY_DIR)  # the argument compose passes: one lru_cache key
        samples.append(time.perf_counter() - started)
    return median(samples)


def by_kind(specs: list[SpecUnderTest], cold: list[Sample], warm: list[Sample]) -> list[KindFigure]:
    present = {t.kind.value for s in specs for t in s.tasks}
    kinds = [k for k in KIND_ORDER if k in present] + sorted(present - set(KIND_ORDER))
    figures = []
    for kind in kinds:
        tasks = {(s.name, t.key) for s in specs for t in s.tasks if t.kind.value == kind}
        of_cold = [x for x in cold if x.kind == kind]
        of_warm = [x for x in warm if x.kind == kind]
        outcomes = {(x.spec, x.key): x for x in of_warm}
        figures.append(
            KindFigure(
                kind=kind,
                tasks=len(tasks),
                generated=sum(not x.refused for x in outcomes.values()),
                refused=sum(x.refused for x in outcomes.values()),
                files_median=median([x.files for x in outcomes.values() if not x.refused]),
                cold_median_s=median([x.seconds for x in of_cold]),
                cold_p95_s=p95([x.seconds for x in of_cold]),
                warm_median_s=median([x.seconds for x in of_warm]),
                warm_p95_s=p95([x.seconds for x in of_warm]),
            )
        )
    return figures


# --------------------------------------------------------------------------- 3. quality


@dataclass
class TestRun:
    database: str
    returncode: int
    passed: int
    failed: int
    errors: int
    skipped: int
    seconds: float
    summary: str
    tail: str = ""  # the end of the output when the run did not pass


@dataclass
class QualityFigure:
    spec: str
    files: int
    checkable: int
    clean_files: int
    clean_share: float
    findings: int
    skill_scores: dict[str, float]
    files_with_findings: list[str]
    standards_changes: list[str]  # what ApplyStandards would still change
    tests: list[TestRun] = field(default_factory=list)


SUMMARY_LINE = re.compile(r"^=*\s*(\d+ \w+.*) in [\d.]+s")


def parse_pytest(output: str) -> tuple[str, dict[str, int]]:
    summary = ""
    for line in output.splitlines():
        found = SUMMARY_LINE.match(line.strip())
        if found:
            summary = found.group(1).strip(" =")
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for count, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary):
        counts["errors" if word.startswith("error") else word] += int(count)
    return summary, counts


def run_project_tests(project_dir: Path, database: str, url: str | None) -> TestRun:
    started = time.perf_counter()
    run = run_tests(project_dir, url)
    seconds = time.perf_counter() - started
    summary, counts = parse_pytest(run.output)
    ok = run.returncode == 0
    return TestRun(
        database,
        run.returncode,
        counts["passed"],
        counts["failed"],
        counts["errors"],
        counts["skipped"],
        seconds,
        summary or "(no pytest summary)",
        "" if ok else run.output[-3000:],
    )


@contextmanager
def postgres_server() -> Iterator[str]:
    """URL of the maintenance database of a PostgreSQL started (pgserver) in a temp dir."""
    warnings.filterwarnings("ignore", module="platformdirs")
    import pgserver

    with tempfile.TemporaryDirectory(prefix="devmatrix-bench-pg-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


def project_quality(
    name: str, project: ComposedProject, catalogue: Catalogue, pg_url: str | None, run_suite: bool
) -> QualityFigure:
    corpus = project_corpus(name, project)
    sources = corpus.sources()
    report = validate(catalogue, corpus.inputs())
    findings = [f for r in report.results for f in r.findings]
    dirty = sorted({f.path for f in findings})
    fixed = apply_fixes(list(corpus.files))
    figure = QualityFigure(
        spec=name,
        files=len(project.files),
        checkable=len(sources),
        clean_files=len(sources) - len(dirty),
        clean_share=rate(len(sources) - len(dirty), len(sources)),
        findings=len(findings),
        skill_scores={r.skill: r.score for r in report.results},
        files_with_findings=dirty,
        standards_changes=list(fixed.fixes),
    )
    if not run_suite:
        return figure
    with tempfile.TemporaryDirectory(prefix=f"devmatrix-bench-{name}-") as tmp:
        project_dir = write_project(project.sources(), Path(tmp))
        figure.tests.append(run_project_tests(project_dir, "sqlite", None))
        if pg_url is not None:
            from tests.fixtures.postgres import fresh_database

            with fresh_database(pg_url) as url:
                figure.tests.append(
                    run_project_tests(
                        project_dir, "postgresql", url.replace("postgresql://", "postgresql+psycopg://", 1)
                    )
                )
    return figure


# --------------------------------------------------------------------------- 4. Anthropic overhead


@dataclass
class AnthropicFigure:
    calls: int
    prompt_build_median_s: float
    prompt_build_p95_s: float
    parse_median_s: float
    parse_p95_s: float
    round_trip_median_s: float
    round_trip_p95_s: float
    # The same request body POSTed with plain httpx: what the local server and HTTP cost alone.
    raw_http_median_s: float
    raw_http_p95_s: float
    # Round trip minus raw POST, paired per call: the SDK and the generator around the HTTP call.
    overhead_median_s: float
    overhead_p95_s: float
    request_kb_median: float
    response_kb_median: float
    note: str = (
        "local Messages-API server answering at once (tests/fixtures/anthropic_server.py, TCP_NODELAY): "
        "generator + SDK + local HTTP overhead, not model latency"
    )


async def bench_anthropic(specs: list[SpecUnderTest], catalogue: Catalogue) -> AnthropicFigure:
    import anthropic
    import httpx

    from devmatrix.runtime.config import Settings
    from services.codegen import prompts
    from services.codegen.anthropic_generator import AnthropicGenerator, parse_answer
    from services.skills.mapping import TaskShape, map_task
    from tests.fixtures import anthropic_server as api

    golden = load_golden()
    model = "claude-sonnet-4-6"
    build: list[float] = []
    parse: list[float] = []
    round_trip: list[float] = []
    raw_http: list[float] = []
    request_kb: list[float] = []
    response_kb: list[float] = []
    server = api.AnthropicServer()
    # The stdlib server writes the response head and body separately; with Nagle on, the body
    # waits for the client's delayed ACK (~40 ms a call), which measures TCP, not the generator.
    # TCP_NODELAY on the server's sockets (as any real API front end has) removes that.
    server._httpd.RequestHandlerClass.disable_nagle_algorithm = True
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="devmatrix-bench-llm-") as tmp:
            settings = Settings(
                data_dir=Path(tmp),
                anthropic_api_key=api.API_KEY,
                anthropic_base_url=server.base_url,
                anthropic_model=model,
                llm_timeout_seconds=10.0,
                llm_max_retries=0,
            )
            generator = AnthropicGenerator(settings)
            offline = OfflineGenerator()
            http = httpx.AsyncClient(timeout=10.0)
            headers = {"x-api-key": api.API_KEY, "anthropic-version": "2023-06-01"}
            try:
                for spec in specs:
                    for task in spec.tasks:
                        info = task_info(task)
                        try:
                            answer = await offline.generate(GenerationRequest(task=info, spec=spec.design))
                        except FailedPrecondition:
                            continue
                        # What the pipeline would offer: the patterns the files came from, the
                        # task's skills with their guidelines.
                        patterns = tuple(
                            PatternRef(n, golden[n].category, golden[n].code, 0.9)
                            for n in answer.patterns_used[:3]
                            if n in golden
                        )
                        shape = TaskShape(
                            kind=info.kind,
                            name=info.name,
                            description=info.description,
                            files=[f.path for f in answer.files],
                            tech_stack=dict(spec.design.tech_stack),
                        )
                        skills = tuple(SkillGuide(s.name, s.guidelines) for s in map_task(catalogue, shape))
                        request = GenerationRequest(
                            task=info, spec=spec.design, patterns=patterns, skills=skills
                        )
                        started = time.perf_counter()
                        prompts.system_blocks(request)
                        prompts.messages(request)
                        build.append(time.perf_counter() - started)
                        scripted = api.tool_answer(
                            {f.path: f.content for f in answer.files},
                            patterns_used=list(answer.patterns_used),
                        )
                        body = {**scripted.body, "model": model}
                        response_kb.append(len(json.dumps(body)) / 1024)
                        message = anthropic.types.Message.model_validate(body)
                        started = time.perf_counter()
                        parse_answer(message)
                        parse.append(time.perf_counter() - started)
                        server.script(scripted)
                        started = time.perf_counter()
                        await generator.generate(request)
                        round_trip.append(time.perf_counter() - started)
                        sent = server.requests[-1].body
                        request_kb.append(len(json.dumps(sent)) / 1024)
                        server.script(scripted)
                        started = time.perf_counter()
                        raw = await http.post(f"{server.base_url}/v1/messages", json=sent, headers=headers)
                        raw_http.append(time.perf_counter() - started)
                        assert raw.status_code == 200, raw.text
            finally:
                await generator.aclose()
                await http.aclose()
    finally:
        server.close()
    overhead = [a - b for a, b in zip(round_trip, raw_http, strict=True)]
    return AnthropicFigure(
        calls=len(round_trip),
        prompt_build_median_s=median(build),
        prompt_build_p95_s=p95(build),
        parse_median_s=median(parse),
        parse_p95_s=p95(parse),
        round_trip_median_s=median(round_trip),
        round_trip_p95_s=p95(round_trip),
        raw_http_median_s=median(raw_http),
        raw_http_p95_s=p95(raw_http),
        overhead_median_s=median(overhead),
        overhead_p95_s=p95(overhead),
        request_kb_median=median(request_kb),
        response_kb_median=median(response_kb),
    )


# --------------------------------------------------------------------------- report


def environment() -> dict[str, Any]:
    def out(args: list[str]) -> str:
        try:
            return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git_commit": out(["git", "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(out(["git", "status", "--porcelain"])),
        "ruff": out([ruff_binary(), "--version"]),
    }


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> None:
    t = Table(title=title, caption=caption or None, title_justify="left", caption_justify="left")
    for i, column in enumerate(columns):
        t.add_column(column, justify="left" if i == 0 or column == "what" else "right")
    for row in rows:
        t.add_row(*(str(c) for c in row))
    console.print(t)


def unmeasured_skills(catalogue: Catalogue, skills: list[SkillFigure]) -> list[str]:
    measured = {f.skill for f in skills}
    return [s.name for s in catalogue.skills if s.name not in measured]


def print_skills(
    corpora: list[CorpusFigure],
    skills: list[SkillFigure],
    validations: list[ValidateFigure],
    runs: int,
    unmeasured: list[str],
) -> None:
    table(
        "Corpora",
        ["corpus", "files", "checkable", "skipped", "checkable lines", "test modules", "what"],
        [
            (c.corpus, c.files, c.checkable, c.skipped, num(c.lines_checkable), c.test_files, c.description)
            for c in corpora
        ],
    )
    for corpus in corpora:
        of = [f for f in skills if f.corpus == corpus.corpus]
        table(
            f"score_skill on {corpus.corpus}: median of {runs} runs",
            [
                "skill",
                "files",
                "lines",
                "cold ms",
                "cold files/s",
                "cold lines/s",
                "warm files/s",
                "score",
                "findings",
            ],
            [
                (
                    f.skill,
                    f.files,
                    num(f.lines),
                    ms(f.cold_median_s),
                    num(f.cold_files_per_s),
                    num(f.cold_lines_per_s),
                    num(f.warm_files_per_s),
                    f"{f.score:.3f}",
                    f.findings,
                )
                for f in of
            ],
        )
    table(
        f"Per skill over all corpora (reported: COLD, fresh SourceFile objects; median of {runs})",
        ["skill", "files", "lines", "cold files/s", "cold lines/s", "warm files/s", "warm lines/s"],
        [
            (
                r["skill"],
                r["files"],
                num(r["lines"]),
                num(r["cold_files_per_s"]),
                num(r["cold_lines_per_s"]),
                num(r["warm_files_per_s"]),
                num(r["warm_lines_per_s"]),
            )
            for r in combined_skills(skills)
        ],
        caption=(
            "cold = the skill alone on new files: it pays every parse it needs (AST, tree-sitter, one ruff "
            "subprocess per Python file); warm = parses already cached on the files: the checks' own cost. "
            "testing-test-writing and testing-unit-tests only look into test modules (see the corpora "
            "table): their rates are high where there are few."
        ),
    )
    if unmeasured:
        console.print(f"Not measured (no file of their languages in these corpora): {', '.join(unmeasured)}")
    table(
        f"validate(): every applicable skill, parses shared (one Validate RPC); median of {runs}",
        [
            "corpus",
            "files",
            "lines",
            "median ms",
            "min ms",
            "max ms",
            "files/s",
            "lines/s",
            "overall",
            "passed",
        ],
        [
            (
                v.corpus,
                v.files,
                num(v.lines),
                ms(v.median_s),
                ms(v.min_s),
                ms(v.max_s),
                num(v.files_per_s),
                num(v.lines_per_s),
                f"{v.overall_score:.3f}",
                v.passed,
            )
            for v in validations
        ],
    )


def print_fixes(fixes: list[FixFigure], runs: int) -> None:
    table(
        f"apply_fixes (ApplyStandards): per Python file, and the whole corpus in one call (median of {runs})",
        [
            "corpus",
            "files timed",
            "per file median ms",
            "per file p95 ms",
            "files/s",
            "whole corpus ms",
            "fixes",
            "files changed",
        ],
        [
            (
                f.corpus,
                f.python_files_timed,
                ms(f.per_file_median_s),
                ms(f.per_file_p95_s),
                f"{f.per_file_files_per_s:,.1f}",
                ms(f.whole_median_s),
                f.whole_fixes,
                f"{f.whole_files_changed}/{f.whole_files}",
            )
            for f in fixes
        ],
    )


def print_codegen(
    library_s: float, composes: list[ComposeFigure], kinds: list[KindFigure], runs: int
) -> None:
    table(
        f"Offline generation: whole project per spec (golden library load {ms(library_s)} ms, not included)",
        [
            "spec",
            "tasks",
            "files",
            "parse+plan ms",
            "compose median ms",
            "compose p95 ms",
        ],
        [(c.spec, c.tasks, c.files, ms(c.parse_plan_s), ms(c.median_s), ms(c.p95_s)) for c in composes],
    )
    table(
        f"OfflineGenerator.generate per task kind, both specs, {runs} runs of every task",
        [
            "kind",
            "tasks",
            "generated",
            "refused",
            "files",
            "cold median ms",
            "cold p95 ms",
            "warm median ms",
            "warm p95 ms",
        ],
        [
            (
                k.kind,
                k.tasks,
                k.generated,
                k.refused,
                f"{k.files_median:g}",
                ms(k.cold_median_s),
                ms(k.cold_p95_s),
                ms(k.warm_median_s),
                ms(k.warm_p95_s),
            )
            for k in kinds
        ],
        caption=(
            "cold = a fresh generator per call (composes the spec's project first); warm = a generator "
            "holding the composition (selects the task's files). Refused = FailedPrecondition (UI needs the "
            "Anthropic generator); its time is included."
        ),
    )


def print_quality(quality: list[QualityFigure]) -> None:
    table(
        "Offline output quality",
        ["spec", "checkable files", "with no finding", "share", "findings", "ApplyStandards would change"],
        [
            (
                q.spec,
                q.checkable,
                q.clean_files,
                f"{q.clean_share:.1%}",
                q.findings,
                f"{len(q.standards_changes)} ({', '.join(sorted({c.split(': ', 1)[-1] for c in q.standards_changes})) or '-'})",
            )
            for q in quality
        ],
    )
    skills = list(dict.fromkeys(s for q in quality for s in q.skill_scores))
    table(
        "Per-skill score over the whole composed project",
        ["skill", *(q.spec for q in quality)],
        [(s, *(f"{q.skill_scores[s]:.3f}" if s in q.skill_scores else "-" for q in quality)) for s in skills],
    )
    runs = [(q.spec, t) for q in quality for t in q.tests]
    if runs:
        table(
            "The composed project's own pytest suite (subprocess)",
            ["spec", "database", "passed", "failed", "errors", "skipped", "seconds", "exit"],
            [
                (spec, t.database, t.passed, t.failed, t.errors, t.skipped, f"{t.seconds:.1f}", t.returncode)
                for spec, t in runs
            ],
        )
        for spec, t in runs:
            if t.returncode != 0:
                console.print(f"[bold red]{spec} on {t.database} did not pass[/]; end of its output:")
                console.print(t.tail, markup=False, highlight=False)
    for q in quality:
        if q.files_with_findings:
            console.print(f"{q.spec}: files with findings: {', '.join(q.files_with_findings)}")


def print_anthropic(figure: AnthropicFigure) -> None:
    table(
        f"Anthropic generator overhead over {figure.calls} calls ({figure.note})",
        ["step", "median ms", "p95 ms"],
        [
            (
                "prompt building (system blocks + messages)",
                ms(figure.prompt_build_median_s),
                ms(figure.prompt_build_p95_s),
            ),
            ("answer parsing (parse_answer)", ms(figure.parse_median_s), ms(figure.parse_p95_s)),
            (
                "generate() round trip to the local server",
                ms(figure.round_trip_median_s),
                ms(figure.round_trip_p95_s),
            ),
            (
                "  the same body POSTed with plain httpx",
                ms(figure.raw_http_median_s),
                ms(figure.raw_http_p95_s),
            ),
            (
                "  SDK + generator overhead (round trip - raw POST)",
                ms(figure.overhead_median_s),
                ms(figure.overhead_p95_s),
            ),
        ],
        caption=f"median request {figure.request_kb_median:.1f} KiB, median answer {figure.response_kb_median:.1f} KiB",
    )


def markdown(results: dict[str, Any], command: str) -> str:
    """The headline figures as markdown tables for the README."""
    out = [
        f"Measured with `{command}` ({results['environment']['cpus']} CPUs, Python "
        f"{results['environment']['python']}, {results['environment']['ruff']}).",
        "",
    ]
    if "skills" in results:
        runs = results["runs"]
        out += [
            f"Skills checks, per skill over every corpus (cold: fresh files, each skill pays its own parses; "
            f"warm: parses cached; median of {runs} runs):",
            "",
            "| skill | files | cold files/s | cold lines/s | warm files/s | warm lines/s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        out += [
            f"| {r['skill']} | {r['files']} | {num(r['cold_files_per_s'])} | {num(r['cold_lines_per_s'])} | "
            f"{num(r['warm_files_per_s'])} | {num(r['warm_lines_per_s'])} |"
            for r in results["skills"]["combined"]
        ]
        if results["skills"]["unmeasured"]:
            out += [
                "",
                f"Not measured (no file of their languages in these corpora): "
                f"{', '.join(results['skills']['unmeasured'])}.",
            ]
        out += [
            "",
            "| Validate (all skills, one call) | files | lines | median ms | files/s | lines/s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        out += [
            f"| {v['corpus']} | {v['files']} | {num(v['lines'])} | {ms(v['median_s'])} | "
            f"{num(v['files_per_s'])} | {num(v['lines_per_s'])} |"
            for v in results["skills"]["validate"]
        ]
    if "fixes" in results:
        out += [
            "",
            "| ApplyStandards (apply_fixes) | per file median ms | per file p95 ms | whole corpus ms | files changed |",
            "|---|---:|---:|---:|---:|",
        ]
        out += [
            f"| {f['corpus']} | {ms(f['per_file_median_s'])} | {ms(f['per_file_p95_s'])} | {ms(f['whole_median_s'])} | "
            f"{f['whole_files_changed']}/{f['whole_files']} |"
            for f in results["fixes"]
        ]
    if "codegen" in results:
        cg = results["codegen"]
        out += [
            "",
            f"Offline generation (golden library load {ms(cg['library_load_median_s'])} ms):",
            "",
            "| spec | tasks | files | compose median ms | compose p95 ms |",
            "|---|---:|---:|---:|---:|",
        ]
        out += [
            f"| {c['spec']} | {c['tasks']} | {c['files']} | {ms(c['median_s'])} | {ms(c['p95_s'])} |"
            for c in cg["compose"]
        ]
        out += [
            "",
            "| task kind | tasks | generated | refused | cold median ms | cold p95 ms | warm median ms | warm p95 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        out += [
            f"| {k['kind']} | {k['tasks']} | {k['generated']} | {k['refused']} | {ms(k['cold_median_s'])} | "
            f"{ms(k['cold_p95_s'])} | {ms(k['warm_median_s'])} | {ms(k['warm_p95_s'])} |"
            for k in cg["kinds"]
        ]
    if "quality" in results:
        out += [
            "",
            "| offline project | files passing every skill check | findings | ApplyStandards changes | tests |",
            "|---|---:|---:|---:|---|",
        ]
        for q in results["quality"]:
            tests = (
                "; ".join(
                    f"{t['database']}: {t['passed']} passed, {t['failed']} failed, {t['errors']} errors in {t['seconds']:.1f} s"
                    for t in q["tests"]
                )
                or "not run"
            )
            out.append(
                f"| {q['spec']} | {q['clean_files']}/{q['checkable']} ({q['clean_share']:.1%}) | {q['findings']} | "
                f"{len(q['standards_changes'])} | {tests} |"
            )
    if "anthropic" in results:
        a = results["anthropic"]
        out += [
            "",
            f"Anthropic generator overhead against a local Messages-API server ({a['calls']} calls; not model latency):",
            "",
            "| step | median ms | p95 ms |",
            "|---|---:|---:|",
            f"| prompt building | {ms(a['prompt_build_median_s'])} | {ms(a['prompt_build_p95_s'])} |",
            f"| answer parsing | {ms(a['parse_median_s'])} | {ms(a['parse_p95_s'])} |",
            f"| generate() round trip (local) | {ms(a['round_trip_median_s'])} | {ms(a['round_trip_p95_s'])} |",
            f"| same body, plain httpx POST | {ms(a['raw_http_median_s'])} | {ms(a['raw_http_p95_s'])} |",
            f"| SDK + generator overhead | {ms(a['overhead_median_s'])} | {ms(a['overhead_p95_s'])} |",
        ]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def section(title: str) -> float:
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def main(args: argparse.Namespace) -> dict[str, Any]:
    runs: int = args.runs
    skip = set(args.skip)
    catalogue = load_catalogue()
    specs = [load_spec(name, filename) for name, filename in SPECS.items()]
    projects = {s.name: compose(s.design) for s in specs}
    corpora = [golden_corpus(), *(project_corpus(n, p) for n, p in projects.items())]
    if not args.quick:
        corpora.append(repo_corpus())
    results: dict[str, Any] = {"environment": environment(), "runs": runs, "quick": args.quick}
    started_all = time.perf_counter()

    if "skills" not in skip:
        started = section("1. Skills checks")
        described = [describe_corpus(c) for c in corpora]
        skills = [f for c in corpora for f in bench_skills(c, catalogue, runs)]
        validations = [bench_validate(c, catalogue, runs) for c in corpora]
        unmeasured = unmeasured_skills(catalogue, skills)
        print_skills(described, skills, validations, runs, unmeasured)
        results["skills"] = {
            "corpora": [asdict(c) for c in described],
            "per_corpus": [asdict(f) for f in skills],
            "combined": combined_skills(skills),
            "validate": [asdict(v) for v in validations],
            "unmeasured": unmeasured,
            "seconds": time.perf_counter() - started,
        }
    if "fixes" not in skip:
        started = section("1b. ApplyStandards fixes")
        fixes = [bench_fixes(c, runs, QUICK_FIX_SAMPLE if args.quick else None) for c in corpora]
        print_fixes(fixes, runs)
        results["fixes"] = [asdict(f) for f in fixes]
        results["fixes_seconds"] = time.perf_counter() - started
    if "codegen" not in skip:
        started = section("2. Offline generation")
        library_s = bench_library_load(runs)
        composes = [bench_compose(s, runs) for s in specs]
        cold, warm = asyncio.run(generation_samples(specs, args.task_runs))
        kinds = by_kind(specs, cold, warm)
        print_codegen(library_s, composes, kinds, args.task_runs)
        results["codegen"] = {
            "library_load_median_s": library_s,
            "compose": [asdict(c) for c in composes],
            "kinds": [asdict(k) for k in kinds],
            "task_runs": args.task_runs,
            "samples": {"cold": [asdict(x) for x in cold], "warm": [asdict(x) for x in warm]},
            "seconds": time.perf_counter() - started,
        }
    if "quality" not in skip:
        started = section("3. Offline output quality")
        with postgres_server() if args.postgres else _nothing() as pg_url:
            quality = [
                project_quality(name, project, catalogue, pg_url, not args.no_project_tests)
                for name, project in projects.items()
            ]
        print_quality(quality)
        results["quality"] = [asdict(q) for q in quality]
        results["quality_seconds"] = time.perf_counter() - started
    if "anthropic" not in skip:
        started = section("4. Anthropic generator overhead (local server)")
        figure = asyncio.run(bench_anthropic(specs, catalogue))
        print_anthropic(figure)
        results["anthropic"] = asdict(figure)
        results["anthropic_seconds"] = time.perf_counter() - started
    results["total_seconds"] = time.perf_counter() - started_all
    console.print(f"total {results['total_seconds']:.1f} s")
    return results


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--runs", type=int, default=None, help="timed runs per measurement (default 3, quick 1)"
    )
    parser.add_argument(
        "--task-runs", type=int, default=None, help="runs of every planned task (default 5, quick 2)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="one run, no repository corpus, a sample of files for fixes"
    )
    parser.add_argument("--postgres", action="store_true", help="also run the projects' tests on PostgreSQL")
    parser.add_argument(
        "--no-project-tests", action="store_true", help="skip the generated projects' pytest runs"
    )
    parser.add_argument("--skip", nargs="*", choices=PARTS, default=[], help="parts to leave out")
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument("--markdown", type=Path, help="write the headline figures as markdown tables")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.task_runs is None:
        args.task_runs = 2 if args.quick else 5
    if args.runs < 1 or args.task_runs < 1:
        parser.error("--runs and --task-runs must be at least 1")
    return args


if __name__ == "__main__":
    from devmatrix.runtime.logging import configure_logging

    arguments = parse_args()
    configure_logging("WARNING")
    figures = main(arguments)
    shown = [a for a in sys.argv[1:] if a not in ("--json", "--markdown")]
    shown = [a for a in shown if a not in {str(arguments.json), str(arguments.markdown)}]
    command = " ".join([".venv/bin/python -m tests.benchmarks.skills_codegen", *shown])
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        console.print(f"wrote {arguments.json}")
    if arguments.markdown:
        arguments.markdown.write_text(markdown(figures, command))
        console.print(f"wrote {arguments.markdown}")
