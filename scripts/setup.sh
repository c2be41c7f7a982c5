#!/usr/bin/env bash
# Sets up DevMatrix on a fresh machine: a venv with the pinned dependencies, the
# generated gRPC stubs and the `devmatrix` command. `--dev` adds what the test suite
# needs: test dependencies, grpcurl and buf (Go module proxy), promtool (Debian's
# prometheus package) and the Neo4j test harness (Maven Central).
# Idempotent: a second run only checks. Needs no standard input.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
REQ=requirements.txt
[ $DEV = 1 ] && REQ=requirements-dev.txt
stamp=.venv/.installed-$(sha256sum "$REQ" requirements.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  log "installing Python dependencies ($REQ)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQ"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
log "generating gRPC stubs from protos/"
PYTHON=.venv/bin/python scripts/gen_protos.sh

[ $DEV = 1 ] || exit 0

mkdir -p .tools/bin
export GOBIN=$ROOT/.tools/bin
if [ ! -x .tools/bin/grpcurl ]; then
  log "installing grpcurl (go install)"
  go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
fi
if [ ! -x .tools/bin/buf ]; then
  log "installing buf (go install)"
  go install github.com/bufbuild/buf/cmd/buf@v1.75.0
fi
if [ -x scripts/install_go_tools.sh ]; then
  scripts/install_go_tools.sh
fi
missing=()
command -v promtool >/dev/null || missing+=(prometheus)       # promtool: alert rule tests
command -v redis-server >/dev/null || missing+=(redis-server) # the cache tests' real Redis
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
log "building the Neo4j test harness launcher (Maven)"
scripts/setup_neo4j.sh
log "done"
