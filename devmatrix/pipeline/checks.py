"""Processes run in a generated project's isolated environment, and what their output says."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from devmatrix.pipeline.environment import Environment

TEST_TIMEOUT_SECONDS = 600.0
_COUNT = re.compile(r"(\d+) (passed|failed|errors?)")


@dataclass(frozen=True)
class Completed:
    code: int
    output: str

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class TestRun:
    passed: int
    failed: int
    code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.failed == 0 and self.passed > 0


async def start_in(
    env: Environment, project: Path, args: list[str], extra: dict[str, str] | None, stdout: int, stderr: int
) -> asyncio.subprocess.Process:
    """`python <args>` of the environment, in the project, with only the project's variables."""
    return await asyncio.create_subprocess_exec(
        str(env.python), *args, cwd=project, env=env.env(project, extra), stdout=stdout, stderr=stderr
    )


async def run_in(
    env: Environment,
    project: Path,
    args: list[str],
    limit_seconds: float = TEST_TIMEOUT_SECONDS,
    extra: dict[str, str] | None = None,
) -> Completed:
    process = await start_in(env, project, args, extra, asyncio.subprocess.PIPE, asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), limit_seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        return Completed(-1, f"timed out after {limit_seconds:.0f} s")
    return Completed(process.returncode or 0, out.decode("utf-8", "replace"))


async def pytest(env: Environment, project: Path, *targets: str) -> TestRun:
    """The project's tests (or `targets`) on in-memory SQLite, this machine's plugins off."""
    done = await run_in(env, project, ["-m", "pytest", "-q", "-p", "no:cacheprovider", *targets])
    counts = {"passed": 0, "failed": 0, "error": 0}
    for number, word in _COUNT.findall(done.output.splitlines()[-1] if done.output.strip() else ""):
        counts[word.rstrip("s")] += int(number)
    return TestRun(counts["passed"], counts["failed"] + counts["error"], done.code, done.output)
