"""Tables and markdown of the skills and codegen benchmark's figures."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from services.skills.catalogue import Catalogue
from services.skills.checks.python.source import ruff_binary
from tests.benchmarks.codegen_corpora import (
    ROOT,
    CorpusFigure,
    FixFigure,
    SkillFigure,
    ValidateFigure,
    combined_skills,
    console,
    ms,
    num,
)
from tests.benchmarks.codegen_generation import AnthropicFigure, ComposeFigure, KindFigure, QualityFigure

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
