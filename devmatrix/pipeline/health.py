"""Phase 9: the deployed project, in its isolated environment, migrated onto a scratch
SQLite database and served by uvicorn; it must answer its health probe and a request on
every endpoint its OpenAPI document lists with anything but a server error."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import tempfile
import time
from pathlib import Path

import httpx

from devmatrix.pipeline.checks import run_in, start_in
from devmatrix.pipeline.environment import Environment
from devmatrix.pipeline.summary import Health

START_TIMEOUT_SECONDS = 60.0
PROBES = ("/health/live", "/health", "/healthz")
_PARAM = re.compile(r"\{[^}]+\}")
# A placeholder id for path parameters: a valid UUID, so a UUID-keyed route answers 404
# rather than 422 and the lookup path is exercised.
PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def app_environment(database: Path) -> dict[str, str]:
    """Settings that let the app run here, whatever its .env.example says."""
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "APP_ENVIRONMENT": "development",
        "APP_TRUSTED_HOSTS": "127.0.0.1,localhost",
        "APP_RATE_LIMIT_PER_MINUTE": "100000",
        "APP_RATE_LIMIT_BURST": "100000",
        "APP_LOG_JSON": "true",
    }


async def probe_endpoints(client: httpx.AsyncClient) -> tuple[int, list[str]]:
    """(endpoints checked, problems) for every operation of /openapi.json."""
    document = (await client.get("/openapi.json")).raise_for_status().json()
    checked, problems = 0, []
    for path, operations in sorted(document.get("paths", {}).items()):
        url = _PARAM.sub(PLACEHOLDER_ID, path)
        for method in sorted(operations):
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            checked += 1
            body = {"json": {}} if method in ("post", "put", "patch") else {}
            try:
                answer = await client.request(method.upper(), url, **body)
            except httpx.HTTPError as error:
                problems.append(f"{method.upper()} {path}: {type(error).__name__}")
                continue
            if answer.status_code >= 500:
                problems.append(f"{method.upper()} {path}: {answer.status_code}")
    return checked, problems


async def check(env: Environment, project: Path, tests_passed: int, tests_failed: int) -> Health:
    health = Health(installed=True, tests_passed=tests_passed, tests_failed=tests_failed)
    with tempfile.TemporaryDirectory(prefix="devmatrix-health-") as scratch:
        extra = app_environment(Path(scratch) / "health.db")
        migrated = await run_in(
            env, project, ["-m", "alembic", "upgrade", "head"], limit_seconds=120, extra=extra
        )
        if migrated.code != 0:
            health.detail = f"alembic upgrade head failed: {migrated.tail(3)}"
            return health
        port = _free_port()
        server = await start_in(
            env,
            project,
            ["-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
            extra,
            asyncio.subprocess.DEVNULL,
            asyncio.subprocess.PIPE,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
                probe = await _wait_up(client, server)
                if probe is None:
                    stderr = await _drain(server)
                    health.detail = f"the app did not answer a health probe within {START_TIMEOUT_SECONDS:.0f} s: {stderr}"
                    return health
                checked, problems = await probe_endpoints(client)
        finally:
            with contextlib.suppress(ProcessLookupError):
                server.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait(), 10)
            if server.returncode is None:
                server.kill()
                await server.wait()
    health.endpoints_checked, health.endpoints_ok = checked, checked - len(problems)
    health.passed = not problems and checked > 0 and tests_failed == 0 and tests_passed > 0
    health.detail = f"{probe} answered; " + (
        f"{checked} endpoints answered without a server error" if not problems else "; ".join(problems[:5])
    )
    return health


async def _wait_up(client: httpx.AsyncClient, server: asyncio.subprocess.Process) -> str | None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and server.returncode is None:
        for path in PROBES:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(path)).status_code == 200:
                    return path
        await asyncio.sleep(0.2)
    return None


async def _drain(server: asyncio.subprocess.Process) -> str:
    if server.returncode is None:
        server.terminate()
    assert server.stderr is not None
    with contextlib.suppress(TimeoutError):
        data = await asyncio.wait_for(server.stderr.read(), 10)
        return data.decode("utf-8", "replace").strip()[-400:]
    return ""
