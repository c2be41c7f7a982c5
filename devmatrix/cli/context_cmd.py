"""`devmatrix context TASK_ID [--level standard] [--json]` and `devmatrix context compare SPEC_ID`."""

from __future__ import annotations

import asyncio
import enum
import json
import statistics
from typing import Annotated, Any

import click
import typer
from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from devmatrix.cli.common import DataDir, err, load_settings, out, run
from devmatrix.cli.mesh import context_client
from devmatrix.v1 import common_pb2
from devmatrix.v1 import context_pb2 as cpb
from devmatrix.v1 import orchestrator_pb2 as opb

SHOW = "show"
COMPARE_CONCURRENCY = 8


class LevelName(enum.StrEnum):
    minimal = "minimal"
    standard = "standard"
    extended = "extended"


LEVEL_PB = {
    LevelName.minimal: cpb.CONTEXT_LEVEL_MINIMAL,
    LevelName.standard: cpb.CONTEXT_LEVEL_STANDARD,
    LevelName.extended: cpb.CONTEXT_LEVEL_EXTENDED,
}


class ContextGroup(TyperGroup):
    """`context TASK_ID ...` runs the hidden `show` command; `context compare ...` the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [SHOW, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "TASK_ID [--level LEVEL] [--json] | compare SPEC_ID [--json]")


context_app = typer.Typer(
    cls=ContextGroup,
    add_completion=False,
    no_args_is_help=True,
    help="Print a task's assembled context, or compare context sizes with full markdown for a spec.",
)


def header(response: cpb.GetContextResponse) -> str:
    level = cpb.ContextLevel.Name(response.level).removeprefix("CONTEXT_LEVEL_").lower()
    parts = [
        f"# context of task {response.task_id} ({level}): {response.total_bytes} bytes "
        f"(budget {response.budget_bytes}), {response.token_count} tokens ({response.token_counter}), "
        f"cache {'hit' if response.cache_hit else 'miss'}"
    ]
    for label, names in (
        ("trimmed", response.trimmed_sections),
        ("dropped", response.dropped_sections),
        ("degraded", response.degraded_sections),
    ):
        if names:
            parts.append(f"{label}: {', '.join(names)}")
    return "; ".join(parts)


@context_app.command(SHOW, hidden=True)
def show(
    task_id: Annotated[str, typer.Argument(help="A task id (see `devmatrix plan --json`)")],
    level: Annotated[LevelName, typer.Option(help="Context size class")] = LevelName.standard,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole response as JSON")] = False,
    data_dir: DataDir = None,
) -> None:
    """Print the context assembled for TASK_ID, after a header line of its sizes."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with context_client(settings, err) as clients:
            response = await clients.context.GetContext(
                cpb.GetContextRequest(task_id=task_id, level=LEVEL_PB[level])
            )
        if as_json:
            print(json.dumps(MessageToDict(response, always_print_fields_with_no_presence=True), indent=2))
        else:
            print(header(response))
            print()
            print(response.text, end="")
        return 0

    run(main)


async def compare_spec(clients: Any, spec_id: str) -> dict[str, Any]:
    """Every TASK of the spec against full markdown at each level, and the median reductions."""
    tasks: list[common_pb2.Task] = []
    token = ""
    while True:
        page = await clients.orchestrator.GetTaskTree(
            opb.GetTaskTreeRequest(
                spec_id=spec_id, page_size=2000, page_token=token, type=common_pb2.TASK_TYPE_TASK
            )
        )
        tasks.extend(page.tasks)
        token = page.next_page_token
        if not token:
            break
    gate = asyncio.Semaphore(COMPARE_CONCURRENCY)

    async def one(task: common_pb2.Task, level: LevelName) -> cpb.CompareWithFullMarkdownResponse:
        async with gate:
            return await clients.context.CompareWithFullMarkdown(
                cpb.CompareWithFullMarkdownRequest(task_id=task.id, level=LEVEL_PB[level])
            )

    results = await asyncio.gather(*(one(t, lv) for t in tasks for lv in LevelName))
    rows: list[dict[str, Any]] = []
    token_counter = ""
    for i, task in enumerate(tasks):
        by_level = dict(zip(LevelName, results[i * len(LevelName) : (i + 1) * len(LevelName)], strict=True))
        first = by_level[LevelName.minimal]
        token_counter = first.token_counter
        rows.append(
            {
                "task_id": task.id,
                "key": task.key,
                "name": task.name,
                "full_markdown": {"bytes": first.full_markdown_bytes, "tokens": first.full_markdown_tokens},
                "levels": {
                    lv.value: {
                        "bytes": r.context_bytes,
                        "tokens": r.context_tokens,
                        "reduction": round(r.reduction, 4),
                        "byte_reduction": round(r.byte_reduction, 4),
                        "facts_present": r.all_facts_present,
                        "missing_facts": [f"{f.kind}: {f.value}" for f in r.facts if not f.in_context],
                        "degraded_sections": list(r.degraded_sections),
                    }
                    for lv, r in by_level.items()
                },
            }
        )
    median = {
        lv.value: {
            "tokens": round(statistics.median(r["levels"][lv.value]["reduction"] for r in rows), 4)
            if rows
            else 0.0,
            "bytes": round(statistics.median(r["levels"][lv.value]["byte_reduction"] for r in rows), 4)
            if rows
            else 0.0,
        }
        for lv in LevelName
    }
    return {
        "spec_id": spec_id,
        "token_counter": token_counter,
        "task_count": len(rows),
        "tasks": rows,
        "median_reduction": median,
        "all_facts_present": {
            lv.value: all(r["levels"][lv.value]["facts_present"] for r in rows) for lv in LevelName
        },
    }


def print_comparison(out: Console, doc: dict[str, Any]) -> None:
    table = Table(
        title=f"Context vs full markdown for spec {doc['spec_id']} (tokens: {doc['token_counter']})",
        title_justify="left",
    )
    table.add_column("task")
    table.add_column("full md bytes/tokens", justify="right")
    for lv in LevelName:
        table.add_column(f"{lv.value} bytes/tokens", justify="right")
    table.add_column("facts present", justify="center")
    for row in doc["tasks"]:
        levels = row["levels"]
        facts = "/".join("yes" if levels[lv.value]["facts_present"] else "NO" for lv in LevelName)
        table.add_row(
            f"{row['key']} {row['name']}",
            f"{row['full_markdown']['bytes']}/{row['full_markdown']['tokens']}",
            *(f"{levels[lv.value]['bytes']}/{levels[lv.value]['tokens']}" for lv in LevelName),
            facts,
        )
    out.print(table)
    out.print(
        f"{doc['task_count']} tasks; facts present per level (minimal/standard/extended) in the last column."
    )
    for lv in LevelName:
        m = doc["median_reduction"][lv.value]
        out.print(
            f"median reduction {lv.value}: {m['tokens']:.1%} tokens, {m['bytes']:.1%} bytes; "
            f"all facts present: {'yes' if doc['all_facts_present'][lv.value] else 'no'}",
            highlight=False,
        )


@context_app.command("compare")
def compare(
    spec_id: Annotated[str, typer.Argument(help="The spec id printed by `devmatrix plan`")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    data_dir: DataDir = None,
) -> None:
    """For every task of SPEC_ID: full-markdown size against each context level, facts present,
    and the median reduction per level."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with context_client(settings, err) as clients:
            with err.status("Comparing every task at every level..."):
                doc = await compare_spec(clients, spec_id)
        if as_json:
            print(json.dumps(doc, indent=2))
        else:
            print_comparison(out, doc)
        return 0

    run(main)
