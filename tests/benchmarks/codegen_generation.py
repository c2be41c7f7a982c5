"""Offline generation, output quality and Anthropic-overhead measurements of the skills
and codegen benchmark (run it as `python -m tests.benchmarks.skills_codegen`)."""

from __future__ import annotations

import json
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devmatrix.runtime.errors import FailedPrecondition
from services.codegen.domain import GenerationRequest, PatternRef, SkillGuide, TaskInfo
from services.codegen.offline import ComposedProject, OfflineGenerator, compose
from services.codegen.offline.golden import LIBRARY_DIR, load_golden
from services.orchestrator.domain import PlannedTask
from services.skills.catalogue import Catalogue
from services.skills.fixes import apply_fixes
from services.skills.validation import validate
from tests.benchmarks.codegen_corpora import KIND_ORDER, SpecUnderTest, median, p95, project_corpus, rate
from tests.codegen.support import run_tests, write_project

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
