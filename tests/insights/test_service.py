"""InsightsService shares the orchestrator's server: reflection lists and describes it
(the real grpcurl), health reports it, RED metrics label it; the 0003 migration goes up
and down; the CLI commands answer through it."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import psycopg
from grpc_health.v1 import health_pb2

from devmatrix.stores.postgres import migrate, migrations_dir
from services.orchestrator import runtime
from tests.e2e.test_runtime import health_status, run_grpcurl
from tests.insights import scenario as sc
from tests.insights.conftest import Served

INSIGHTS = "devmatrix.v1.InsightsService"
LEARNING_TABLES = {"estimates", "retrospectives", "complexity_snapshots"}


async def test_reflection_health_and_metrics_cover_both_services(served: Served) -> None:
    address = served.server.address
    code, output = await run_grpcurl(address, "list")
    assert code == 0, output
    assert {INSIGHTS, "devmatrix.v1.OrchestratorService", "grpc.health.v1.Health"} <= set(output.split())
    code, output = await run_grpcurl(address, "describe", f"{INSIGHTS}.GetDashboard")
    assert code == 0, output
    assert (
        "rpc GetDashboard ( .devmatrix.v1.GetDashboardRequest ) returns ( .devmatrix.v1.GetDashboardResponse )"
        in output
    )
    state = await sc.build(served)
    code, output = await run_grpcurl(
        "-d", json.dumps({"spec_id": state.spec_id}), address, f"{INSIGHTS}/GetScopeCreep"
    )
    assert code == 0, output
    assert json.loads(output)["planned_tasks"] == 45

    assert await health_status(address, INSIGHTS) == health_pb2.HealthCheckResponse.SERVING
    registry = served.server.app.state.registry  # type: ignore[union-attr]
    labels = {
        "grpc_type": "unary",
        "grpc_service": INSIGHTS,
        "grpc_method": "GetScopeCreep",
        "grpc_code": "OK",
    }
    assert registry.get_sample_value("grpc_server_handled_total", labels) == 1


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'orchestrator'"
        ).fetchall()
    return {r[0] for r in rows}


def test_learning_migration_up_down_up(database_url: str) -> None:
    migrations = migrations_dir(runtime.__file__)
    migrate(database_url, migrations, "orchestrator")
    assert LEARNING_TABLES | {"agent_logs", "task_attempts", "executions", "pipeline_runs"} <= tables(
        database_url
    )
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version_num FROM orchestrator.alembic_version").fetchone() == ("0004",)
    migrate(database_url, migrations, "orchestrator", "-1")
    assert "pipeline_runs" not in tables(database_url)
    assert tables(database_url) >= LEARNING_TABLES
    migrate(database_url, migrations, "orchestrator", "-1")
    assert not LEARNING_TABLES & tables(database_url)
    assert "agent_logs" in tables(database_url)
    migrate(database_url, migrations, "orchestrator")
    assert tables(database_url) >= LEARNING_TABLES | {"pipeline_runs"}


async def devmatrix(served: Served, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_ADDR", "_PORT"))}
    env.update(ORCHESTRATOR_ADDR=served.server.address, COLUMNS="1000")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devmatrix.cli.main",
        "insights",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_cli_commands(served: Served) -> None:
    state = await sc.build(served)
    code, out, err = await devmatrix(served, "dashboard", state.spec_id)
    assert code == 0, err
    assert "Task API" in out and "6.7%" in out and "ETA" in out
    assert sc.DATA_MODEL in out and "coder-1" in out and "review queue 1" in out

    code, out, err = await devmatrix(served, "dashboard", state.spec_id, "--json")
    assert code == 0, err
    assert json.loads(out)["reviewQueueSize"] == 1

    code, out, err = await devmatrix(served, "agents", state.spec_id)
    assert code == 0, err
    assert "coder-1" in out and "planner" in out

    code, out, err = await devmatrix(served, "slowest", "--limit", "1", "--json")
    assert code == 0, err
    assert [a["agent"] for a in json.loads(out)["agents"]] == ["coder-1"]

    code, out, err = await devmatrix(served, "failures", "connection refused")
    assert code == 0, err
    assert "db:5432" in out and "pattern store unavailable" in out

    code, out, err = await devmatrix(served, "estimates")
    assert code == 0, err
    assert "no estimates" in out

    code, out, err = await devmatrix(served, "scope", state.spec_id)
    assert code == 0, err
    assert "45 planned" in out

    code, out, err = await devmatrix(served, "retention", "--dry-run")
    assert code == 0, err
    assert "would delete 0 agent log rows" in out

    code, out, err = await devmatrix(served, "dashboard", "not-a-uuid")
    assert code == 1
    assert "INVALID_ARGUMENT" in err and "spec_id" in err
