#!/usr/bin/env bash
# Sets up (test dependencies) and runs the wave execution benchmark: the real orchestrator on
# a real PostgreSQL (pgserver, started by the module) executing examples/specs/task_api.md and
# blog_ui.md against a codegen stand-in that sleeps a fixed time per task, so what is measured
# is the orchestration. Prints wall time against the ideal wave schedule, speedup, overhead per
# task and where the time goes; asserts nothing. Arguments go to the module, e.g.
#   scripts/benchmark_execution.sh --sleep 0.2 --concurrency 1 5 10 --repeat 3 --json bench.json
# SKIP_SETUP=1 skips scripts/setup.sh (a checkout already set up: setup regenerates devmatrix/v1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-0}" = 1 ] || scripts/setup.sh --dev
# The module starts the codegen stand-in and PostgreSQL as child processes; gRPC's fork
# handlers are not needed for that and only log warnings.
export GRPC_ENABLE_FORK_SUPPORT=false
exec .venv/bin/python -m tests.benchmarks.execution "$@"
