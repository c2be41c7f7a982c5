"""`devmatrix skills list` and `devmatrix skills check PATH`: the 17 standards, and their
checks run in this process on any file or directory (no service, no database)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from devmatrix.cli.common import err, out
from devmatrix.runtime.errors import DomainError, FieldViolation
from services.skills.catalogue import load_catalogue
from services.skills.checks.base import MAX_FILE_BYTES, Skipped, iter_rules
from services.skills.validation import FileInput, Report, validate

skills_app = typer.Typer(add_completion=False, no_args_is_help=True, help="The 17 coding standards.")

# Never project source: dependencies, caches and build output.
IGNORED_DIRS = frozenset(
    {"node_modules", "__pycache__", "venv", "dist", "build", "site-packages", "coverage", "htmlcov"}
)


def fail(message: str) -> NoReturn:
    """Bad input: one line on stderr (paths and messages are not markup) and exit 2."""
    err.print(f"[red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def describe(error: DomainError) -> str:
    """The message and the field violations it does not already say (the valid values)."""
    violations = getattr(error, "violations", [])
    extra = [
        f"{v.field}: {v.description}"
        for v in violations
        if isinstance(v, FieldViolation) and v.description not in error.message
    ]
    return error.message + (" [" + "; ".join(extra) + "]" if extra else "")


@skills_app.command("list")
def list_skills(
    domain: Annotated[str, typer.Option(help="Only this domain: global, backend, frontend, testing")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Every skill with its domain, threshold, languages and number of checks."""
    try:
        skills = load_catalogue().list(domain)
    except DomainError as error:
        fail(describe(error))
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
        try:
            # Follows symlinks: a broken one, a socket or a FIFO (whose read would block
            # forever) is skipped like an unreadable file, not a crash or a hang.
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                skipped.append(Skipped(relative, "not a regular file"))
                continue
            if info.st_size > MAX_FILE_BYTES:
                skipped.append(
                    Skipped(relative, f"{info.st_size} bytes is over the {MAX_FILE_BYTES}-byte limit")
                )
                continue
            data = path.read_bytes()
        except OSError as error:
            skipped.append(Skipped(relative, f"cannot be read: {error.strerror or error}"))
            continue
        try:
            files.append(FileInput(relative, data.decode("utf-8")))
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
    # One line per finding, whatever the width (so grep works on piped output); paths like
    # pages/[id].tsx and messages quoting code are text, not markup.
    for r in report.results:
        for f in r.findings:
            out.print(
                f"{f.path}:{f.line}: {f.severity.name.lower()} {f.skill}/{f.rule}: {f.message}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    all_skipped = [*skipped, *report.skipped]
    if verbose:
        for s in all_skipped:
            out.print(f"skipped {s.path}: {s.reason}", markup=False, highlight=False, soft_wrap=True)
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
        fail(f"{path} does not exist")
    files, skipped = collect(path)
    if not files:
        fail(f"no readable files under {path}")
    try:
        with err.status(f"Checking {len(files)} files..."):
            report = validate(load_catalogue(), files, skill or [])
    except DomainError as error:
        fail(describe(error))
    if as_json:
        print(json.dumps(report_document(report, skipped), indent=2))
    else:
        print_report(report, skipped, verbose)
    raise typer.Exit(0 if report.passed else 1)
