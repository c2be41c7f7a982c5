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
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from services.codegen.offline import compose
from services.skills.catalogue import load_catalogue
from tests.benchmarks.codegen_corpora import (
    PARTS,
    QUICK_FIX_SAMPLE,
    SPECS,
    bench_fixes,
    bench_skills,
    bench_validate,
    combined_skills,
    console,
    describe_corpus,
    golden_corpus,
    load_spec,
    project_corpus,
    repo_corpus,
)
from tests.benchmarks.codegen_generation import (
    bench_anthropic,
    bench_compose,
    bench_library_load,
    by_kind,
    generation_samples,
    postgres_server,
    project_quality,
)
from tests.benchmarks.codegen_report import (
    environment,
    markdown,
    print_anthropic,
    print_codegen,
    print_fixes,
    print_quality,
    print_skills,
    unmeasured_skills,
)


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
