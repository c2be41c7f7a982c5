#!/usr/bin/env bash
# Builds the Neo4j test launcher (tests/neo4j) with the official neo4j-harness from Maven Central.
# Idempotent: skips the build when the stamp is newer than the pom and the Java sources.
# Needs only JDK 17 and Maven; the first run downloads ~150 MB of jars into ~/.m2.
set -euo pipefail
cd "$(dirname "$0")/../tests/neo4j"

STAMP=target/.launcher-built

needs_build() {
  [[ -f "$STAMP" && -d target/lib && -d target/classes ]] || return 0
  [[ -n "$(find pom.xml src -newer "$STAMP" -print -quit)" ]]
}

if ! needs_build; then
  echo "neo4j launcher: up to date"
  exit 0
fi

command -v java >/dev/null || { echo "neo4j launcher: java (JDK 17) not found on PATH" >&2; exit 1; }
command -v mvn >/dev/null || { echo "neo4j launcher: mvn (Maven) not found on PATH" >&2; exit 1; }

echo "neo4j launcher: building (first run downloads the harness from Maven Central)"
# A stale lib/ may hold jars of an older harness version that would shadow the new ones.
rm -rf target/lib
mvn -q -B -DskipTests package </dev/null
touch "$STAMP"
echo "neo4j launcher: built"
