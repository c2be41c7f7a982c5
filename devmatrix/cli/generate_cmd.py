"""`devmatrix generate TASK_ID`: generate a task's code through the codegen service and
write it out whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer
from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.table import Table

from devmatrix.cli.common import DataDir, err, load_settings, out, run
from devmatrix.cli.mesh import mesh_channels
from devmatrix.runtime.config import Settings
from devmatrix.v1 import codegen_pb2 as pb
from devmatrix.v1 import codegen_pb2_grpc, common_pb2


@contextlib.asynccontextmanager
async def codegen_client(
    settings: Settings, console: Console
) -> AsyncIterator[codegen_pb2_grpc.CodegenServiceStub]:
    async with mesh_channels(settings, console, ("codegen",)) as channels:
        yield codegen_pb2_grpc.CodegenServiceStub(channels["codegen"])


def generation_deadline(settings: Settings) -> float:
    """Long enough for every attempt with every LLM retry at its full timeout: the default
    deadline of a call (GRPC_DEADLINE_SECONDS) is meant for lookups, not generations."""
    per_attempt = settings.llm_timeout_seconds * (settings.llm_max_retries + 1)
    return per_attempt * settings.codegen_max_attempts + settings.grpc_deadline_seconds


def write_all(files: Sequence[common_pb2.GeneratedFile], out_dir: Path) -> list[Path]:
    """Write every file into a temporary directory beside `out_dir`, then move them in:
    a failure while writing leaves `out_dir` untouched."""
    for f in files:
        pure = PurePosixPath(f.path)
        if pure.is_absolute() or ".." in pure.parts or not f.path.strip():
            raise OSError(f"refusing to write {f.path!r}: not a relative path inside {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".devmatrix-generate-", dir=out_dir.parent))
    try:
        for f in files:
            target = staging / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.content, encoding="utf-8")
        written: list[Path] = []
        for f in files:
            destination = out_dir / f.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / f.path, destination)
            written.append(destination)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def print_summary(got: pb.GenerateCodeResponse, written: list[Path]) -> None:
    verdict = "[green]passed[/]" if got.passed else "[red]did not pass[/]"
    out.print(
        f"{got.generator} generator, attempt {got.attempt}: {len(got.files)} files, skills {verdict} "
        f"(score {got.overall_score:.2f}, confidence {got.confidence:.2f})"
    )
    if got.usage.model:
        u = got.usage
        out.print(f"{u.model}: {u.input_tokens} in / {u.output_tokens} out tokens, ${u.cost_usd:.4f}")
    table = Table()
    for column in ("skill", "score", "result", "findings"):
        table.add_column(column)
    for v in got.validations:
        table.add_row(v.skill, f"{v.score:.2f}", "pass" if v.passed else "fail", str(len(v.findings)))
    out.print(table)
    for v in got.validations:
        for f in v.findings:
            out.print(f"{f.path}:{f.line}: {v.skill}/{f.rule}: {f.message}", highlight=False)
    if got.patterns_used:
        out.print("patterns used: " + ", ".join(got.patterns_used))
    for path in written:
        out.print(f"wrote {path}", highlight=False)
    if not written:
        for f in got.files:
            out.rule(f.path)
            out.print(f.content, markup=False, highlight=False)


def generate(
    task_id: Annotated[str, typer.Argument(help="The task's id (see `devmatrix status SPEC_ID --json`)")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the files under this directory")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    data_dir: DataDir = None,
) -> None:
    """Generate the code of one task: context, patterns and skills in, validated files out."""
    settings = load_settings(data_dir)

    async def main() -> int:
        async with codegen_client(settings, err) as client:
            with err.status("Generating..."):
                got = await client.GenerateCode(
                    pb.GenerateCodeRequest(task_id=task_id), timeout=generation_deadline(settings)
                )
        written = write_all(got.files, out_dir) if out_dir is not None else []
        if as_json:
            print(json.dumps(MessageToDict(got, always_print_fields_with_no_presence=True), indent=2))
        else:
            print_summary(got, written)
        return 0 if got.passed else 1

    run(main)
