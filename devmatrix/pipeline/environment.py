"""An isolated Python environment for a generated project: a venv of its own with the
dependencies its pyproject.toml declares (runtime and the dev extra), created once per
dependency set and reused (creating one downloads and installs tens of packages)."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

INSTALL_TIMEOUT_SECONDS = 900.0
READY_MARK = ".devmatrix-ready"


class SetupFailed(Exception):
    """The environment could not be made; the message says which step and why."""


@dataclass(frozen=True)
class Environment:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def env(self, project: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Variables for a process of the project: nothing of this repository leaks in."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(VIRTUAL_ENV=str(self.root), PYTHONPATH=str(project), PYTHONDONTWRITEBYTECODE="1")
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra or {})
        return env


def requirements(project: Path) -> list[str]:
    """Runtime dependencies and the `dev` extra of the project's pyproject.toml."""
    path = project / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SetupFailed("the project has no pyproject.toml: nothing says what to install") from None
    except tomllib.TOMLDecodeError as error:
        raise SetupFailed(f"pyproject.toml is not valid TOML: {error}") from None
    project_table = data.get("project", {})
    deps = list(project_table.get("dependencies", []))
    deps += project_table.get("optional-dependencies", {}).get("dev", [])
    if not all(isinstance(d, str) for d in deps):
        raise SetupFailed("pyproject.toml dependencies must be strings")
    return sorted(set(deps))


def _run(*args: str, limit_seconds: float) -> tuple[int, str]:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=limit_seconds, check=False)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {limit_seconds:.0f} s"
    return done.returncode, done.stdout + done.stderr


def _create(root: Path, deps: list[str], lock_path: Path) -> bool:
    """Create the venv at `root` unless it is ready; True when it was created now."""
    # One creator at a time per dependency set (two runs at once share the result).
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / READY_MARK).exists():
            return False
        code, output = _run(sys.executable, "-m", "venv", "--clear", str(root), limit_seconds=120)
        if code != 0:
            raise SetupFailed(f"python -m venv failed: {output.strip()[-500:]}")
        pip = (str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
        code, output = _run(*pip, *deps, limit_seconds=INSTALL_TIMEOUT_SECONDS)
        if code != 0:
            raise SetupFailed(f"pip install of {len(deps)} requirements failed: {output.strip()[-800:]}")
        (root / READY_MARK).write_text(json.dumps(deps, indent=1))
        return True


async def ensure(project: Path, cache_dir: Path) -> tuple[Environment, bool]:
    """The environment for `project`'s dependencies, and whether it was created now."""
    deps = requirements(project)
    key = hashlib.sha256(json.dumps([sys.version, deps]).encode()).hexdigest()[:16]
    await asyncio.to_thread(cache_dir.mkdir, parents=True, exist_ok=True)
    created = await asyncio.to_thread(_create, cache_dir / key, deps, cache_dir / f"{key}.lock")
    return Environment(cache_dir / key), created
