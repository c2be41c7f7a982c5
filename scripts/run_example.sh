#!/usr/bin/env bash
# Sets up DevMatrix and runs the main job on the embedded defaults: starts the mesh in
# process and takes examples/specs/task_api.md through the ten phases of `devmatrix run`,
# leaving a checked, working project in generated/task_api.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/devmatrix run "${1:-examples/specs/task_api.md}" "${@:2}"
