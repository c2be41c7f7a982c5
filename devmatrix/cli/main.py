"""devmatrix: run the mesh, plan a spec, follow its progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import grpc
import typer

from devmatrix.cli import render
from devmatrix.cli.common import DataDir, err, load_settings, out, run
from devmatrix.cli.context_cmd import context_app
from devmatrix.cli.generate_cmd import generate
from devmatrix.cli.insights_cmd import insights_app
from devmatrix.cli.launcher import run_up
from devmatrix.cli.mesh import cycle_of, orchestrator_client
from devmatrix.cli.patterns_cmd import patterns_app
from devmatrix.cli.run_cmd import run_spec
from devmatrix.cli.skills_cmd import skills_app
from devmatrix.pipeline.clients import all_tasks
from devmatrix.v1 import orchestrator_pb2 as pb

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
app.add_typer(context_app, name="context")
app.add_typer(insights_app, name="insights")
app.add_typer(patterns_app, name="patterns")
app.add_typer(skills_app, name="skills")
app.command()(generate)
app.command(name="run")(run_spec)


@app.command()
def up(data_dir: DataDir = None) -> None:
    """Start every service of the mesh (one process each) until Ctrl-C or SIGTERM."""
    settings = load_settings(data_dir)
    raise typer.Exit(run_up(settings, err))


@app.command()
def plan(
    spec: Annotated[Path, typer.Argument(help="A markdown spec (.md) or a JSON task plan (.json)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    name: Annotated[str, typer.Option(help="Display name (default: the spec's title)")] = "",
    request_id: Annotated[str, typer.Option(help="Idempotency key")] = "",
    data_dir: DataDir = None,
) -> None:
    """Ingest SPEC, store its task hierarchy and print it with its waves and critical path."""
    try:
        text = spec.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        err.print(f"[red]error:[/] cannot read {spec}: {error}", highlight=False)
        raise typer.Exit(2) from None
    settings = load_settings(data_dir)
    is_json = spec.suffix.lower() == ".json"

    async def main() -> int:
        async with orchestrator_client(settings, err) as client:
            request = pb.CreateSpecRequest(name=name, request_id=request_id)
            if is_json:
                request.plan_json = text
            else:
                request.markdown = text
            try:
                with err.status(f"Ingesting {spec.name} and planning..."):
                    created = await client.CreateSpec(request)
            except grpc.aio.AioRpcError as error:
                cycle = cycle_of(error)
                if as_json and cycle:
                    out.print_json(json.dumps(render.plan_json(None, [], None, cycle)))
                raise
            with err.status("Analyzing dependencies..."):
                analysis = await client.AnalyzeDependencies(
                    pb.AnalyzeDependenciesRequest(spec_id=created.spec.id)
                )
                tasks = await all_tasks(client, created.spec.id)
        if as_json:
            print(json.dumps(render.plan_json(created.spec, tasks, analysis), indent=2))
        else:
            render.print_plan(out, created.spec, tasks, analysis)
        return 0

    run(main)


@app.command()
def status(
    spec_id: Annotated[str, typer.Argument(help="The spec id printed by `devmatrix plan`")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show a spec's progress: overall, per phase, per wave and per agent."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with orchestrator_client(settings, err) as client:
            progress = await client.GetProgress(pb.GetProgressRequest(spec_id=spec_id))
        if as_json:
            from google.protobuf.json_format import MessageToDict

            print(json.dumps(MessageToDict(progress, always_print_fields_with_no_presence=True), indent=2))
        else:
            render.print_progress(out, progress)
        return 0

    run(main)


@app.command()
def watch(
    spec_id: Annotated[str, typer.Argument(help="The spec id printed by `devmatrix plan`")],
    data_dir: DataDir = None,
) -> None:
    """Follow a spec's status changes as they happen, one line each, until Ctrl-C."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with orchestrator_client(settings, err) as client:
            stream = client.WatchProgress(pb.WatchProgressRequest(spec_id=spec_id, include_snapshot=True))
            async for message in stream:
                if message.WhichOneof("event") == "snapshot":
                    overall = message.snapshot.overall
                    out.print(
                        f"watching spec {spec_id}: {overall.completed}/{overall.total} tasks completed "
                        f"({overall.percent_complete:.1f}%)",
                        highlight=False,
                    )
                    continue
                event = message.task_event
                out.print(render.event_line(event), highlight=False)
        return 0

    run(main)


if __name__ == "__main__":
    app()
