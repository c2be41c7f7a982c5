"""`python -m gateway` as `devmatrix up` runs it: its own process in front of the test's
mesh, serving until SIGTERM, JSON logs with the request ids, a clean exit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from devmatrix.cli.mesh import free_port
from devmatrix.runtime.config import SERVICE_NAMES
from tests.gateway.conftest import ROOT, Gateway


async def test_python_m_gateway_serves_until_sigterm(gateway: Gateway, tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith(("_ADDR", "_PORT")) and not key.startswith(("GATEWAY_", "DATABASE_URL"))
    }
    env |= {f"{name.upper()}_ADDR": gateway.settings.addr(name) for name in SERVICE_NAMES}
    env |= {
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "GATEWAY_CORS_ORIGINS": "http://a.test, https://b.test:8443",
        "SHUTDOWN_GRACE_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "gateway.stderr"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway",
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30
        ) as client:
            deadline = time.monotonic() + 60
            while True:
                assert process.returncode is None, log_path.read_text()[-4000:]
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the gateway did not become ready"
                await asyncio.sleep(0.2)
            request_id = f"proc-{uuid.uuid4().hex[:8]}"
            skills = await client.get(
                "/api/skills", headers={"X-Request-Id": request_id, "Origin": "https://b.test:8443"}
            )
            assert skills.status_code == 200 and len(skills.json()["skills"]) == 17
            assert skills.headers["access-control-allow-origin"] == "https://b.test:8443"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 30)
    text = log_path.read_text()
    assert returncode == 0, text[-4000:]
    assert "Traceback" not in text
    logged = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [e for e in logged if e.get("event") == "http_request" and e.get("request_id") == request_id]
    assert access and access[0]["service"] == "gateway" and access[0]["route"] == "/api/skills"
    assert any(e.get("event") == "gateway_stopped" for e in logged)


def test_a_bad_setting_stops_the_gateway_with_one_line() -> None:
    env = dict(os.environ, GATEWAY_CORS_ORIGINS="ftp://nope")
    result = subprocess.run(
        [sys.executable, "-m", "gateway"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gateway: configuration error: GATEWAY_CORS_ORIGINS: 'ftp://nope' must be * or http(s)://host[:port]"
    ]
