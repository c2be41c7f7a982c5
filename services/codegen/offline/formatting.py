"""The generated Python formatted by ruff, with the generated project's own settings.

The templates cannot know how long entity and field names will be, so the composed
files are handed to `ruff format` (a pinned dependency of the mesh) once per project,
in a scratch copy with the project's pyproject.toml, which gives the line length.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devmatrix.runtime.errors import Unavailable
from services.codegen.offline.files import ProjectFile

FORMAT_TIMEOUT_S = 60.0


def ruff_binary() -> str:
    beside = Path(sys.executable).parent / "ruff"
    found = str(beside) if beside.exists() else shutil.which("ruff")
    if not found:
        raise Unavailable("ruff is not installed: the offline generator formats its output with it")
    return found


def formatted(files: list[ProjectFile]) -> list[ProjectFile]:
    """`files` with every .py file as `ruff format` leaves it under the project's config."""
    python = [f for f in files if f.path.endswith(".py")]
    config = [f for f in files if f.path == "pyproject.toml"]
    if not python:
        return files
    with tempfile.TemporaryDirectory(prefix="devmatrix-format-") as scratch:
        root = Path(scratch)
        for f in [*python, *config]:
            (root / f.path).parent.mkdir(parents=True, exist_ok=True)
            (root / f.path).write_text(f.content, encoding="utf-8")
        done = subprocess.run(
            [ruff_binary(), "format", "--no-cache", "."],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=FORMAT_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            # The templates produced code ruff cannot parse: a generator bug, said plainly.
            raise RuntimeError(
                f"ruff format failed on generated code: {(done.stderr or done.stdout).strip()[:2000]}"
            )
        contents = {f.path: (root / f.path).read_text(encoding="utf-8") for f in python}
    return [
        ProjectFile(f.path, contents[f.path], f.bundle, f.patterns) if f.path in contents else f
        for f in files
    ]
