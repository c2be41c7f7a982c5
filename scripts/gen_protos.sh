#!/usr/bin/env bash
# Generates the Python stubs of protos/ into devmatrix/v1 (never edited by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
rm -rf devmatrix/v1
mkdir -p devmatrix/v1
"$PY" -m grpc_tools.protoc -Iprotos --python_out=. --pyi_out=. --grpc_python_out=. protos/devmatrix/v1/*.proto
touch devmatrix/v1/__init__.py
