#!/usr/bin/env bash
# Sets up everything the suite needs, then runs the whole test suite (lint included).
# Benchmarks are not part of it: see scripts/benchmark.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
export PATH=$PWD/.tools/bin:$PATH HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
buf lint
exec .venv/bin/python -m pytest "$@"
