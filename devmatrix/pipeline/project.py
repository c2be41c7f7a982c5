"""The generated project on disk: staged from the database beside the output directory,
then put in its place whole (an existing directory is replaced in one rename, never
half-overwritten)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from devmatrix.v1 import common_pb2


def safe_path(path: str) -> PurePosixPath:
    pure = PurePosixPath(path)
    if not path.strip() or pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise OSError(f"refusing to write {path!r}: not a relative path inside the project")
    return pure


def stage(files: Sequence[common_pb2.GeneratedFile], out_dir: Path) -> Path:
    """Write `files` into a new directory next to `out_dir` (same filesystem, so the final
    move is a rename); the caller deploys or removes it."""
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staged-", dir=out_dir.parent))
    try:
        for f in files:
            target = staged.joinpath(*safe_path(f.path).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.content, encoding="utf-8")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged


def deploy(staged: Path, out_dir: Path) -> Path | None:
    """Move `staged` to `out_dir`. An existing `out_dir` is first renamed aside and, once
    the new one is in place, removed; if the move fails it is put back. Returns where the
    previous content went while the swap ran (already removed), or None."""
    out_dir = out_dir.absolute()
    previous: Path | None = None
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise NotADirectoryError(f"{out_dir} exists and is not a directory")
        previous = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.previous-", dir=out_dir.parent))
        previous.rmdir()
        os.rename(out_dir, previous)
    try:
        os.rename(staged, out_dir)
    except BaseException:
        if previous is not None:
            os.rename(previous, out_dir)
        raise
    if previous is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(previous)
    return previous
