"""`devmatrix run SPEC`: the ten phases, each with a progress bar and a one-line result,
then the summary (or one JSON document with --json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from devmatrix.cli.common import DataDir, err, load_settings, out, run
from devmatrix.cli.generate_cmd import generation_deadline
from devmatrix.cli.mesh import mesh_channels
from devmatrix.pipeline.clients import SERVICES, Clients
from devmatrix.pipeline.runner import PipelineRun, RunOptions
from devmatrix.pipeline.summary import PhaseResult, RunSummary


class ProgressReporter:
    """One bar per phase on stderr (stdout stays for the summary or the JSON)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.bars: dict[str, TaskID] = {}

    def start(self, phase: str, name: str, total: int | None) -> None:
        self.progress.start()
        self.bars[phase] = self.progress.add_task(f"[{phase}] {name}", total=total, note="")

    def advance(self, phase: str, done: int, total: int | None, note: str = "") -> None:
        self.progress.update(self.bars[phase], completed=done, total=total, note=escape(note))

    def finish(self, result: PhaseResult) -> None:
        self.progress.remove_task(self.bars.pop(result.phase))
        mark = "[green]ok[/]" if result.ok else "[red]FAILED[/]"
        self.console.print(
            f"{mark} [bold]{result.phase:>4} {result.name}[/] ({result.seconds:.1f} s): {escape(result.line)}",
            highlight=False,
        )

    def close(self) -> None:
        self.progress.stop()


def print_summary(console: Console, s: RunSummary) -> None:
    table = Table(title=f"devmatrix run: {'PASSED' if s.passed else 'FAILED'}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("spec", s.spec_id),
        ("waves executed", f"{s.waves_executed} of {s.waves}"),
        (
            "tasks",
            f"{s.tasks_completed} completed, {s.tasks_failed} failed or blocked, {s.tasks_in_review} in review (of {s.tasks})",
        ),
        (
            "compliance",
            f"{s.compliance:.3f}" + (f" ({s.tasks_repaired} tasks repaired)" if s.tasks_repaired else ""),
        ),
        *[
            (f"validation: {v.level}", f"{'passed' if v.passed else 'FAILED'}: {v.detail}")
            for v in s.validation
        ],
        ("health check", f"{'passed' if s.health.passed else 'FAILED'}: {s.health.detail}"),
        (
            "patterns",
            f"{s.patterns_stored} stored; reuse {s.reuse_rate:.0%} ({s.tasks_reusing_patterns} tasks)",
        ),
        (
            "LLM",
            f"{s.tokens_in + s.tokens_out} tokens, ${s.cost_usd:.4f}"
            if s.tokens_in + s.tokens_out
            else "not used",
        ),
        (
            "time",
            f"{s.wall_seconds:.1f} s; waves {s.execution_wall_seconds:.1f} s against {s.sequential_seconds:.1f} s one by one ({s.speedup:.1f}x)",
        ),
        ("project", s.out_dir),
    ]
    for failure in s.failures[:10]:
        rows.append(
            (f"{failure['status'].lower()}: {failure['task']}", failure.get("lesson") or failure["reason"])
        )
    for key, value in rows:
        table.add_row(key, escape(str(value)))
    console.print(table)


def run_spec(
    spec: Annotated[Path, typer.Argument(help="A markdown spec (.md) or a JSON task plan (.json)")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where the project goes, replaced whole (default: generated/<spec name>)"),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Tasks run side by side in a wave")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    name: Annotated[str, typer.Option(help="Display name (default: the spec's title)")] = "",
    data_dir: DataDir = None,
) -> None:
    """Turn SPEC into a checked project: ingest, plan, execute the waves, check compliance,
    validate at four levels, deploy to --out, health-check it and learn from the run."""
    try:
        text = spec.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        err.print(f"[red]error:[/] cannot read {spec}: {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    out_dir = out_dir or Path("generated") / spec.stem
    if out_dir.exists() and not out_dir.is_dir():
        err.print(f"[red]error:[/] --out {out_dir} exists and is not a directory", highlight=False)
        raise typer.Exit(2)
    settings = load_settings(data_dir)
    options = RunOptions(
        out_dir=out_dir.absolute(),
        concurrency=concurrency,
        environments=settings.data_dir / "environments",
        spec_text=text,
        is_json=spec.suffix.lower() == ".json",
        name=name,
    )

    async def main() -> int:
        async with mesh_channels(settings, err, SERVICES) as channels:
            reporter = ProgressReporter(err)
            try:
                summary = await PipelineRun(
                    Clients.of(channels, generation_deadline(settings)), options, reporter
                ).run()
            finally:
                reporter.close()
        if as_json:
            print(json.dumps(summary.as_dict(), indent=2))
        else:
            print_summary(out, summary)
        return 0 if summary.passed else 1

    run(main)
