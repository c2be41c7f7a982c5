#!/usr/bin/env bash
# Sets up DevMatrix and runs the main job on the embedded defaults: starts the mesh in
# process, ingests examples/specs/task_api.md and prints its hierarchy and waves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/devmatrix plan "${1:-examples/specs/task_api.md}" "${@:2}"
