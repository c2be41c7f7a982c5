#!/usr/bin/env bash
# Sets up (test dependencies) and runs the skills-checks and code-generation benchmark:
# per-skill check throughput, Validate and ApplyStandards cost, offline generation time per
# task kind, and the offline output's quality (skill findings, its own test suite).
# Prints figures; asserts nothing. Arguments go to the module, e.g.
#   scripts/benchmark_codegen.sh --quick
#   scripts/benchmark_codegen.sh --postgres --json bench.json --markdown bench.md
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
exec .venv/bin/python -m tests.benchmarks.skills_codegen "$@"
