"""Helpers of the codegen tests: specs from the examples, projects on disk, their test runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from services.codegen.domain import SourceFileOut, SpecDesign
from services.codegen.offline import design_from_parsed
from services.orchestrator.domain import ParsedSpec
from services.orchestrator.spec_parser import parse_markdown

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"
# Generous: the generated suites take a few seconds; this only bounds a hang.
RUN_TIMEOUT_SECONDS = 240


def parsed(name: str, replace: tuple[str, str] | None = None) -> ParsedSpec:
    text = (EXAMPLES / name).read_text()
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    return parse_markdown(text)


def spec_design(name: str, replace: tuple[str, str] | None = None) -> SpecDesign:
    return design_from_parsed(parsed(name, replace), spec_id=name)


def write_project(files: list[SourceFileOut], root: Path) -> Path:
    for f in files:
        path = root / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content)
    return root


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str

    @property
    def passed(self) -> int:
        found = re.search(r"(\d+) passed", self.output)
        return int(found.group(1)) if found else 0


def run_in(project: Path, args: list[str], database_url: str | None = None) -> Run:
    """Run `python <args>` in the generated project, isolated from this repository's env."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TEST_DATABASE_URL", "DATABASE_URL")
    }
    if database_url is not None:
        env["TEST_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    return Run(done.returncode, done.stdout + done.stderr)


def run_tests(project: Path, database_url: str | None = None) -> Run:
    return run_in(
        project, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"], database_url
    )
