#!/usr/bin/env bash
# Sets up (test dependencies, the Neo4j harness, ghz) and runs the orchestrator benchmarks
# on both graph backends. Prints figures; asserts nothing. Pass --backend embedded|neo4j to pick one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
scripts/install_go_tools.sh --bench
export PATH=$PWD/.tools/bin:$PATH
exec .venv/bin/python -m tests.benchmarks.orchestrator "$@"
