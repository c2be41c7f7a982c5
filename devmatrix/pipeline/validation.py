"""Phase 7: the generated project checked at four levels (seed 003).

- atomic: every file parses (Python compiled here; other languages through the skills
  service's parsers) and the Python type-checks (mypy, as the project configures it);
- module: every module of the application imports, and the unit tests pass;
- component: every skill that applies passes its threshold (the skills service);
- system: the project's whole test suite passes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from devmatrix.pipeline.checks import pytest, run_in
from devmatrix.pipeline.environment import Environment
from devmatrix.pipeline.summary import Level
from devmatrix.v1 import common_pb2, skills_pb2

SYNTAX_RULE = "syntax-error"
IMPORT_ALL = """
import importlib, pathlib, sys, traceback
failed = 0
for path in sorted(pathlib.Path("app").rglob("*.py")):
    name = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
    try:
        importlib.import_module(name)
    except Exception:
        failed += 1
        print(f"{name}: {traceback.format_exc(limit=1).strip().splitlines()[-1]}")
print(f"imported {len(list(pathlib.Path('app').rglob('*.py')))} modules, {failed} failed")
sys.exit(1 if failed else 0)
"""


def atomic_syntax(
    files: Sequence[common_pb2.GeneratedFile], validation: skills_pb2.ValidateResponse
) -> list[str]:
    """Files that do not parse, with the reason."""
    broken = []
    for f in files:
        if f.path.endswith(".py"):
            try:
                compile(f.content, f.path, "exec", dont_inherit=True)
            except SyntaxError as error:
                broken.append(f"{f.path}:{error.lineno}: {error.msg}")
    python = {b.split(":", 1)[0] for b in broken}
    for result in validation.results:
        for finding in result.findings:
            if finding.rule == SYNTAX_RULE and finding.path not in python:
                broken.append(f"{finding.path}:{finding.line}: {finding.message}")
                python.add(finding.path)
    return broken


async def atomic(
    files: Sequence[common_pb2.GeneratedFile],
    validation: skills_pb2.ValidateResponse,
    env: Environment | None,
    project: Path,
) -> Level:
    broken = atomic_syntax(files, validation)
    detail = "; ".join(broken[:5])
    types_ok = True
    if env is not None and (project / "app").is_dir():
        typed = await run_in(env, project, ["-m", "mypy", "--cache-dir", os.devnull, "app"])
        types_ok = typed.code == 0
        last = typed.output.strip().splitlines()[-1:] or [""]
        detail = "; ".join(filter(None, [detail, f"mypy: {last[0]}"]))
    return Level("atomic", not broken and types_ok, len(files), len(broken) + (0 if types_ok else 1), detail)


async def module(env: Environment, project: Path) -> Level:
    imported = await run_in(env, project, ["-c", IMPORT_ALL])
    lines = imported.output.strip().splitlines()
    failed_imports = [line for line in lines if not line.startswith("imported ")]
    unit = await pytest(env, project, "tests/unit") if (project / "tests" / "unit").is_dir() else None
    passed = imported.code == 0 and (unit is None or unit.ok)
    summary = lines[-1] if lines else "no output"
    if unit is not None:
        summary += f"; unit tests: {unit.passed} passed, {unit.failed} failed"
    return Level(
        "module",
        passed,
        len(list((project / "app").rglob("*.py"))) + (unit.passed + unit.failed if unit else 0),
        len(failed_imports) + (unit.failed if unit else 0),
        "; ".join([summary, *failed_imports[:3]]),
    )


def component(validation: skills_pb2.ValidateResponse) -> Level:
    failing = [r for r in validation.results if not r.passed]
    detail = ", ".join(f"{r.skill} {r.score:.2f}<{r.threshold:.2f}" for r in failing) or (
        f"{len(validation.results)} skills passed (overall {validation.overall_score:.3f})"
    )
    return Level(
        "component", not failing and bool(validation.results), len(validation.results), len(failing), detail
    )


async def system(env: Environment, project: Path) -> Level:
    suite = await pytest(env, project)
    detail = f"{suite.passed} passed, {suite.failed} failed"
    if not suite.ok:
        detail += f": {suite.output.strip().splitlines()[-1:] or ['no output']}"
    return Level("system", suite.ok, suite.passed + suite.failed, suite.failed, detail)
