#!/usr/bin/env bash
# The orchestrator's benchmark (benches/orchestrator.rs), side by side in one run: worker line ->
# SSE frame delay, healthy-path requests/s through the orchestrator vs straight to the same MCP
# server (kube-sim's MCP pods and npm's server-everything; alternating rounds, with each
# process's CPU time per call), RSS with 1000 open streams, failing call -> retried answer minus
# the pods' readiness.
# Usage: scripts/bench-orchestrator.sh [BIN_DIR] (default target/release; built by `make bench`).
# BENCH_ONLY=2 runs one section; BENCH_SECS and BENCH_ROUNDS size the healthy-path rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
export BIN_DIR=${1:-target/release}
export KUBECTL=${KUBECTL:-kubectl}
# The second MCP server of the healthy-path section (as .ci/run installs it for the tests);
# without npm that comparison is skipped and says so.
if [ -z "${MCP_EVERYTHING_DIR:-}" ] && [ ! -f target/tools/node_modules/@modelcontextprotocol/server-everything/dist/index.js ] \
  && command -v npm >/dev/null; then
  npm install --prefix target/tools --no-audit --no-fund --loglevel=error @modelcontextprotocol/server-everything >/dev/null
fi
cargo bench --bench orchestrator
