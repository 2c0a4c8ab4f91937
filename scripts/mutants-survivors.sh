#!/usr/bin/env bash
# Prints a cargo-mutants `--re` pattern that matches exactly the mutants the last run missed or
# timed out on (its missed.txt and timeout.txt), for the second tier of `make mutants`
# (`make mutants MUTANTS_SURVIVORS_OF=DIR`, with DIR a copy of the first tier's output).
# Usage: scripts/mutants-survivors.sh [OUTPUT_DIR] (default target/mutants/mutants.out).
set -euo pipefail
dir=${1:-target/mutants/mutants.out}
names=$(cat "$dir/missed.txt" "$dir/timeout.txt" 2>/dev/null || true)
if [ -z "$names" ]; then
  echo "mutants-survivors: no missed or timed-out mutants in $dir" >&2
  exit 1
fi
# Names as cargo-mutants lists them ("src/act.rs:109:5: replace f -> T with ..."): escape the
# regex metacharacters, then one anchored alternation. (cargo-mutants 27 lets struct-field
# deletions through any `--re`, so a few of those come along.)
printf '%s\n' "$names" | sed -e 's/[][\\.+*?(){}|^$]/\\&/g' | paste -sd'|' | sed -e 's/^/^(/' -e 's/$/)$/'
