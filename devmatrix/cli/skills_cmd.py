"""`devmatrix skills list` and `devmatrix skills check PATH`: the 17 standards, and their
checks run in this process on any file or directory (no service, no database)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from devmatrix.cli.common import err, out
from devmatrix.runtime.errors import DomainError
from services.skills.catalogue import load_catalogue
from services.skills.checks.base import MAX_FILE_BYTES, Skipped, iter_rules
from services.skills.validation import FileInput, Report, validate

skills_app = typer.Typer(add_completion=False, no_args_is_help=True, help="The 17 coding standards.")

# Never project source: dependencies, caches and build output.
IGNORED_DIRS = frozenset(
    {"node_modules", "__pycache__", "venv", "dist", "build", "site-packages", "coverage", "htmlcov"}
)


@skills_app.command("list")
def list_skills(
    domain: Annotated[str, typer.Option(help="Only this domain: global, backend, frontend, testing")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Every skill with its domain, threshold, languages and number of checks."""
    try:
        skills = load_catalogue().list(domain)
    except DomainError as error:
        err.print(f"[red]error:[/] {error.message}", highlight=False)
        raise typer.Exit(2) from None
    rules: dict[str, list[str]] = {}
    for skill, rule, _ in iter_rules():
        rules.setdefault(skill, []).append(rule)
    if as_json:
        documents = [{**asdict(s), "rules": sorted(set(rules.get(s.name, [])))} for s in skills]
        print(json.dumps(documents, indent=2))
        return
    table = Table(title="Skills")
    for column in ("name", "domain", "threshold", "languages", "checks", "description"):
        table.add_column(column)
    for s in skills:
        table.add_row(
            s.name,
            s.domain,
            f"{s.threshold:.2f}",
            ", ".join(s.languages),
            str(len(set(rules.get(s.name, [])))),
            s.description,
        )
    out.print(table)


def collect(root: Path) -> tuple[list[FileInput], list[Skipped]]:
    """The files under `root` (or `root` itself), paths relative to it; hidden and
    dependency directories are not entered."""
    if root.is_file():
        paths = [root]
        base = root.parent
    else:
        base = root
        paths = []
        for directory, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in IGNORED_DIRS)
            paths += [Path(directory) / n for n in sorted(names) if not n.startswith(".")]
    files: list[FileInput] = []
    skipped: list[Skipped] = []
    for path in paths:
        relative = path.relative_to(base).as_posix()
        if path.stat().st_size > MAX_FILE_BYTES:
            skipped.append(
                Skipped(relative, f"{path.stat().st_size} bytes is over the {MAX_FILE_BYTES}-byte limit")
            )
            continue
        try:
            files.append(FileInput(relative, path.read_bytes().decode("utf-8")))
        except UnicodeDecodeError:
            skipped.append(Skipped(relative, "not UTF-8 text (binary?)"))
    return files, skipped


def report_document(report: Report, skipped: list[Skipped]) -> dict[str, object]:
    return {
        "passed": report.passed,
        "overall_score": report.overall_score,
        "files_checked": report.files,
        "results": [
            {
                "skill": r.skill,
                "score": r.score,
                "passed": r.passed,
                "threshold": r.threshold,
                "findings": [{**asdict(f), "severity": f.severity.name} for f in r.findings],
            }
            for r in report.results
        ],
        "skipped": [asdict(s) for s in [*skipped, *report.skipped]],
    }


def print_report(report: Report, skipped: list[Skipped], verbose: bool) -> None:
    table = Table(title=f"{report.files} files checked")
    for column in ("skill", "score", "threshold", "result", "findings"):
        table.add_column(column)
    for r in report.results:
        verdict = "[green]pass[/]" if r.passed else "[red]fail[/]"
        table.add_row(r.skill, f"{r.score:.2f}", f"{r.threshold:.2f}", verdict, str(len(r.findings)))
    out.print(table)
    for r in report.results:
        for f in r.findings:
            out.print(
                f"{f.path}:{f.line}: {f.severity.name.lower()} {f.skill}/{f.rule}: {f.message}",
                highlight=False,
            )
    all_skipped = [*skipped, *report.skipped]
    if verbose:
        for s in all_skipped:
            out.print(f"skipped {s.path}: {s.reason}", highlight=False)
    elif all_skipped:
        out.print(f"{len(all_skipped)} files skipped (--verbose lists them)")
    out.print(f"overall score {report.overall_score:.2f}: {'passed' if report.passed else 'FAILED'}")


@skills_app.command()
def check(
    path: Annotated[Path, typer.Argument(help="A file or directory to check")],
    skill: Annotated[list[str] | None, typer.Option("--skill", help="Only this skill (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="List skipped files")] = False,
) -> None:
    """Check the code under PATH against the skills; exit 1 when a skill fails."""
    if not path.exists():
        err.print(f"[red]error:[/] {path} does not exist", highlight=False)
        raise typer.Exit(2)
    files, skipped = collect(path)
    if not files:
        err.print(f"[red]error:[/] no readable files under {path}", highlight=False)
        raise typer.Exit(2)
    try:
        with err.status(f"Checking {len(files)} files..."):
            report = validate(load_catalogue(), files, skill or [])
    except DomainError as error:
        err.print(f"[red]error:[/] {error.message}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report_document(report, skipped), indent=2))
    else:
        print_report(report, skipped, verbose)
    raise typer.Exit(0 if report.passed else 1)
