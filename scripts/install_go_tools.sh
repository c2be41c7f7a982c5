#!/usr/bin/env bash
# Installs the Go-built deployment tools into .tools/bin (idempotent; offline after the first run).
#   kustomize  renders k8s/base and k8s/overlays for tests/deploy.
# Pinned: kustomize v5.8.x needs Go >= 1.27; v5.7.1 builds with the Go here (1.26).
set -euo pipefail
cd "$(dirname "$0")/.."
KUSTOMIZE_VERSION=${KUSTOMIZE_VERSION:-v5.7.1}
BIN_DIR="$PWD/.tools/bin"
mkdir -p "$BIN_DIR"

if [[ -x "$BIN_DIR/kustomize" ]] && "$BIN_DIR/kustomize" version 2>/dev/null | grep -q "${KUSTOMIZE_VERSION}"; then
  echo "kustomize ${KUSTOMIZE_VERSION} already in $BIN_DIR"
else
  echo "installing kustomize ${KUSTOMIZE_VERSION} into $BIN_DIR"
  GOBIN="$BIN_DIR" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
    go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
fi
"$BIN_DIR/kustomize" version

# ghz: the gRPC load generator the benchmarks drive the services with (scripts/benchmark.sh
# asks for it with --bench; the test suite does not need it).
[[ "${1:-}" == "--bench" ]] || exit 0
GHZ_VERSION=${GHZ_VERSION:-v0.121.0}
# (go install builds report their version as "dev", so presence is the check.)
if [[ -x "$BIN_DIR/ghz" ]]; then
  echo "ghz ${GHZ_VERSION} already in $BIN_DIR"
else
  echo "installing ghz ${GHZ_VERSION} into $BIN_DIR"
  GOBIN="$BIN_DIR" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false go install "github.com/bojand/ghz/cmd/ghz@${GHZ_VERSION}"
fi
