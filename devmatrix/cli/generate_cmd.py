"""`devmatrix generate TASK_ID`: generate a task's code through the codegen service and
write it out whole or not at all."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer
from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.table import Table
from rich.text import Text

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


def check_paths(files: Sequence[common_pb2.GeneratedFile], out_dir: Path) -> None:
    """Every path relative, inside `out_dir`, given once and not under another file of the
    answer; checked before anything is written."""
    seen: set[PurePosixPath] = set()
    for f in files:
        pure = PurePosixPath(f.path)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts or not f.path.strip():
            raise OSError(f"refusing to write {f.path!r}: not a relative path inside {out_dir}")
        if pure in seen:
            raise OSError(f"refusing to write {f.path!r}: it appears more than once")
        seen.add(pure)
    for f in files:
        for parent in PurePosixPath(f.path).parents:
            if parent in seen:
                raise OSError(f"refusing to write {f.path!r}: '{parent}' is a file of the same answer")


def move_in(
    files: Sequence[common_pb2.GeneratedFile], staged: Path, backup: Path, out_dir: Path
) -> list[Path]:
    """Move the staged files into `out_dir`; on any failure undo every step taken (new files
    removed, replaced files put back, created directories removed) and re-raise."""
    undo: list[Callable[[], None]] = []
    written: list[Path] = []
    try:
        for f in files:
            destination = out_dir / f.path
            parts = PurePosixPath(f.path).parts
            for depth in range(1, len(parts)):
                directory = out_dir.joinpath(*parts[:depth])
                if not directory.exists():
                    directory.mkdir()
                    undo.append(directory.rmdir)
                elif not directory.is_dir():
                    raise NotADirectoryError(f"cannot write {destination}: {directory} is not a directory")
            if destination.is_dir() and not destination.is_symlink():
                raise IsADirectoryError(f"cannot write {destination}: it is a directory")
            if destination.exists() or destination.is_symlink():
                saved = backup / f.path
                saved.parent.mkdir(parents=True, exist_ok=True)
                os.replace(destination, saved)
                undo.append(functools.partial(os.replace, saved, destination))
            os.replace(staged / f.path, destination)
            undo.append(destination.unlink)
            written.append(destination)
    except BaseException:
        for step in reversed(undo):
            with contextlib.suppress(OSError):
                step()
        raise
    return written


def staging_parent(out_dir: Path) -> Path:
    """Beside `out_dir` when its parent is writable and on the same filesystem (so each
    move is a rename), else inside `out_dir` itself (`--out ~`, a mount point)."""
    parent = out_dir.absolute().parent
    if os.access(parent, os.W_OK) and parent.stat().st_dev == out_dir.stat().st_dev:
        return parent
    return out_dir


def write_all(files: Sequence[common_pb2.GeneratedFile], out_dir: Path) -> list[Path]:
    """Write every file into a temporary directory beside `out_dir`, then move them in: a
    failure at any point leaves `out_dir` as it was (and absent if it was absent)."""
    check_paths(files, out_dir)
    created = [d for d in (out_dir, *out_dir.parents) if not d.exists()]
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".devmatrix-generate-", dir=staging_parent(out_dir)))
        try:
            staged = staging / "new"
            for f in files:
                target = staged / f.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(f.content, encoding="utf-8")
            return move_in(files, staged, staging / "old", out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        for directory in created:  # deepest first
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def print_summary(got: pb.GenerateCodeResponse, written: list[Path]) -> None:
    verdict = "[green]passed[/]" if got.passed else "[red]did not pass[/]"
    out.print(
        f"{got.generator} generator, attempt {got.attempt}: {len(got.files)} files, skills {verdict} "
        f"(score {got.overall_score:.2f}, confidence {got.confidence:.2f})",
        soft_wrap=True,
    )
    if got.usage.model:
        u = got.usage
        out.print(
            f"{u.model}: {u.input_tokens} in / {u.output_tokens} out tokens, ${u.cost_usd:.4f}",
            markup=False,
            soft_wrap=True,
        )
    table = Table()
    for column in ("skill", "score", "result", "findings"):
        table.add_column(column)
    for v in got.validations:
        table.add_row(v.skill, f"{v.score:.2f}", "pass" if v.passed else "fail", str(len(v.findings)))
    out.print(table)
    # Paths and messages are text, not markup (pages/[id].tsx), one line each whatever the width.
    for v in got.validations:
        for f in v.findings:
            line = f"{f.path}:{f.line}: {v.skill}/{f.rule}: {f.message}"
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if got.patterns_used:
        out.print("patterns used: " + ", ".join(got.patterns_used), markup=False, soft_wrap=True)
    for path in written:
        out.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    if not written:
        for f in got.files:
            out.rule(Text(f.path))
            # Verbatim: rich would wrap long lines at the console width and expand tabs.
            out.file.write(f.content if f.content.endswith("\n") else f.content + "\n")
            out.file.flush()


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
