"""`devmatrix insights ...`: the progress monitor, learning queries and retention
(InsightsService, served by the orchestrator)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devmatrix.cli.common import DataDir, err, load_settings, out, run
from devmatrix.cli.insights_render import agents_table, print_dashboard, status_text
from devmatrix.cli.mesh import mesh_channels
from devmatrix.cli.render import short
from devmatrix.runtime.config import Settings
from devmatrix.v1 import common_pb2, insights_pb2_grpc
from devmatrix.v1 import insights_pb2 as pb

insights_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Progress, learning queries and retention."
)

SpecId = Annotated[str, typer.Argument(help="The spec id printed by `devmatrix plan`")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document")]


@contextlib.asynccontextmanager
async def insights_client(
    settings: Settings, console: Console, services: Sequence[str] = ("orchestrator",)
) -> AsyncIterator[insights_pb2_grpc.InsightsServiceStub]:
    """InsightsService on the orchestrator: the running one (ORCHESTRATOR_ADDR), else
    `services` started in this process for the command."""
    wanted = ("orchestrator",) if "orchestrator" in settings.addrs else tuple(services)
    async with mesh_channels(settings, console, wanted) as channels:
        yield insights_pb2_grpc.InsightsServiceStub(channels["orchestrator"])


def print_json(message: Message) -> None:
    print(json.dumps(MessageToDict(message, always_print_fields_with_no_presence=True), indent=2))


def since_days(days: float | None) -> Timestamp | None:
    if days is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(datetime.now(UTC) - timedelta(days=days))
    return ts


@insights_app.command()
def dashboard(spec_id: SpecId, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Progress with an ETA, waves, started tasks, agents, review queue, cost: one call."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with insights_client(settings, err) as client:
            found = await client.GetDashboard(pb.GetDashboardRequest(spec_id=spec_id))
        print_json(found) if as_json else print_dashboard(found)
        return 0

    run(main)


@insights_app.command()
def wave(
    spec_id: SpecId,
    number: Annotated[int, typer.Argument(help="The wave, from 0")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """The tasks of one wave with their status, agent, attempts and duration."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with insights_client(settings, err) as client:
            found = await client.GetWaveStatus(pb.GetWaveStatusRequest(spec_id=spec_id, wave=number))
        if as_json:
            print_json(found)
            return 0
        table = Table(
            title=f"Wave {found.wave} of {found.wave_count} ({found.counts.percent_complete:.1f}% done)"
        )
        for column in ("task", "status", "agent", "attempts", "seconds", "confidence", "critical"):
            table.add_column(column)
        for t in found.tasks:
            table.add_row(
                escape(t.key),
                status_text(t.status),
                escape(t.agent),
                str(t.attempts),
                f"{t.duration_seconds:.1f}",
                f"{t.confidence:.2f}",
                "*" if t.on_critical_path else "",
            )
        out.print(table)
        return 0

    run(main)


@insights_app.command()
def agents(spec_id: SpecId, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Per agent: tasks by status and what its logged actions took."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with insights_client(settings, err) as client:
            found = await client.GetAgentWorkload(pb.GetAgentWorkloadRequest(spec_id=spec_id))
        print_json(found) if as_json else out.print(agents_table(found.agents))
        return 0

    run(main)


@insights_app.command()
def slowest(
    limit: Annotated[int, typer.Option(help="How many agents")] = 10,
    days: Annotated[float | None, typer.Option("--since-days", help="Only the last N days")] = None,
    spec: Annotated[str, typer.Option(help="Only this spec's actions")] = "",
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Agents by p95, then p50 duration of their logged actions, with failure rates."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with insights_client(settings, err) as client:
            found = await client.GetSlowestAgents(
                pb.GetSlowestAgentsRequest(limit=limit, since=since_days(days), spec_id=spec)
            )
        if as_json:
            print_json(found)
            return 0
        table = Table(title="Slowest agents")
        for column in ("agent", "actions", "failure rate", "p50 ms", "p95 ms", "mean ms", "max ms", "cost $"):
            table.add_column(column, justify="left" if column == "agent" else "right")
        for a in found.agents:
            table.add_row(
                escape(a.agent),
                str(a.actions),
                f"{a.failure_rate:.1%}",
                f"{a.p50_ms:.1f}",
                f"{a.p95_ms:.1f}",
                f"{a.mean_ms:.1f}",
                f"{a.max_ms:.0f}",
                f"{a.cost_usd:.4f}",
            )
        out.print(table)
        return 0

    run(main)


@insights_app.command()
def failures(
    text: Annotated[str, typer.Argument(help="What went wrong, in words")],
    top_k: Annotated[int, typer.Option("--top-k", help="How many per source")] = 5,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Past failures like TEXT: the pattern store's lessons and the failed attempts."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with insights_client(settings, err, ("orchestrator", "patterns")) as client:
            found = await client.FindSimilarFailures(pb.FindSimilarFailuresRequest(text=text, top_k=top_k))
        if as_json:
            print_json(found)
            return 0
        if found.pattern_store_degraded:
            out.print("[yellow]pattern store unavailable: failed attempts only[/]")
        for m in found.failures:
            out.print(
                f"{m.similarity:.3f} [bold]{escape(m.failure.error)}[/] -> lesson: {escape(m.failure.lesson)}",
                highlight=False,
            )
        table = Table(title=f"Failed attempts like {text!r}")
        for column in ("score", "task", "attempt", "agent", "error"):
            table.add_column(column)
        for f in found.attempt_failures:
            table.add_row(
                f"{f.score:.3f}", escape(f.task_key), str(f.attempt), escape(f.agent), escape(f.error)
            )
        out.print(table)
        return 0

    run(main)


def kind_value(name: str) -> int:
    if not name:
        return common_pb2.TASK_KIND_UNSPECIFIED
    try:
        return common_pb2.TaskKind.Value(f"TASK_KIND_{name.upper()}")
    except ValueError:
        err.print(f"[red]error:[/] unknown kind {escape(name)!r}", highlight=False)
        raise typer.Exit(2) from None


@insights_app.command()
def estimates(
    kind: Annotated[str, typer.Option(help="Only this task kind (API, MODEL, ...)")] = "",
    days: Annotated[float | None, typer.Option("--since-days", help="Only the last N days")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """How far effort-based estimates are off, per task kind."""
    settings = load_settings(data_dir)
    kind_number = kind_value(kind)

    async def main() -> int:
        async with insights_client(settings, err) as client:
            found = await client.GetEstimateCorrection(
                pb.GetEstimateCorrectionRequest(kind=kind_number, since=since_days(days))  # type: ignore[arg-type]
            )
        if as_json:
            print_json(found)
            return 0
        if not found.samples:
            out.print("no estimates recorded yet")
            return 0
        table = Table(
            title=f"Estimate correction (baseline {found.baseline_seconds_per_effort:.1f} s per effort unit)"
        )
        for column in ("kind", "samples", "median s/effort", "factor"):
            table.add_column(column)
        for c in found.corrections:
            table.add_row(
                short(c.kind, common_pb2.TaskKind, "TASK_KIND_"),
                str(c.samples),
                f"{c.median_seconds_per_effort:.1f}",
                f"x{c.correction_factor:.2f}",
            )
        out.print(table)
        return 0

    run(main)


@insights_app.command()
def scope(spec_id: SpecId, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Tasks planned at ingestion against the work actually done."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with insights_client(settings, err) as client:
            s = await client.GetScopeCreep(pb.GetScopeCreepRequest(spec_id=spec_id))
        if as_json:
            print_json(s)
            return 0
        verdict = "[red]scope creep[/]" if s.creeping else "[green]within scope[/]"
        out.print(
            f"{s.planned_tasks} planned, {s.current_tasks} now ({s.added_tasks} added), {s.extra_attempts} retries "
            f"on {s.regenerated_tasks} tasks: {s.actual_tasks} / {s.planned_tasks} = {s.ratio:.2f} "
            f"(threshold {s.threshold:.2f}) {verdict}",
            highlight=False,
        )
        return 0

    run(main)


@insights_app.command()
def retention(
    days: Annotated[int, typer.Option(help="Keep this many days (0: AGENT_LOG_RETENTION_DAYS)")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Delete agent logs past the retention now (estimates and retrospectives are kept)."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with insights_client(settings, err) as client:
            r = await client.RunRetention(pb.RunRetentionRequest(retention_days=days, dry_run=dry_run))
        if as_json:
            print_json(r)
        elif r.skipped:
            out.print("another replica is running retention right now: nothing done")
        else:
            verb = "would delete" if r.dry_run else "deleted"
            cutoff: Any = r.cutoff.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds")
            out.print(
                f"{verb} {r.agent_logs_deleted} agent log rows older than {r.retention_days} days ({cutoff})"
            )
        return 0

    run(main)
