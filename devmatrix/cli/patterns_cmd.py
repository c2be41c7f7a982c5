"""`devmatrix patterns search TEXT`: hybrid search over the pattern store."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from google.protobuf.json_format import MessageToDict
from rich.table import Table

from devmatrix.cli.common import DataDir, err, load_settings, out, run
from devmatrix.cli.mesh import patterns_client
from devmatrix.v1 import patterns_pb2 as pb

patterns_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Search the pattern store.")


@patterns_app.command()
def search(
    text: Annotated[str, typer.Argument(help="What the code should do, in words")],
    top_k: Annotated[int, typer.Option("--top-k", help="How many patterns")] = 5,
    language: Annotated[str, typer.Option(help="Only this language")] = "",
    framework: Annotated[str, typer.Option(help="Only this framework")] = "",
    category: Annotated[str, typer.Option(help="Only this category")] = "",
    production_ready: Annotated[
        bool, typer.Option("--production-ready", help="Only production-ready patterns")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    data_dir: DataDir = None,
) -> None:
    """Patterns ranked by vector similarity combined with their production metadata."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with patterns_client(settings, err) as client:
            found = await client.SearchPatterns(
                pb.SearchPatternsRequest(
                    query=text,
                    top_k=top_k,
                    language=language,
                    framework=framework,
                    category=category,
                    production_ready_only=production_ready,
                )
            )
        if as_json:
            print(json.dumps(MessageToDict(found, always_print_fields_with_no_presence=True), indent=2))
            return 0
        table = Table(title=f"Patterns for {text!r}")
        for column in (
            "hybrid",
            "similarity",
            "metadata",
            "name",
            "category",
            "language",
            "framework",
            "ready",
        ):
            table.add_column(column)
        for match in found.matches:
            p = match.pattern
            table.add_row(
                f"{match.hybrid_score:.3f}",
                f"{match.similarity:.3f}",
                f"{match.metadata_score:.3f}",
                p.name,
                p.category,
                p.language,
                p.framework,
                f"{'yes' if p.production_ready else 'no'} ({p.production_score:.2f})",
            )
        out.print(table)
        return 0

    run(main)
