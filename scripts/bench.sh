#!/usr/bin/env bash
# Benchmark: on one kube-sim, in one run, compare
#   - `self-heal diagnose` with the predecessor's kubectl+jq diagnosis procedure (same checks),
#   - `self-heal heal` of a scaled-to-0 service with the pods' own readiness delay subtracted.
# Prints medians over N runs. Usage: scripts/bench.sh [BIN_DIR] (default target/release).
set -euo pipefail
BIN=${1:-target/release}
KUBECTL=${KUBECTL:-kubectl}
N=${N:-15}
NS=cortex-system
SVC=sandfly-mcp-server
READY_DELAY_MS=${READY_DELAY_MS:-500}
command -v jq >/dev/null || { echo "bench needs jq (the shell procedure uses it)" >&2; exit 1; }

work=$(mktemp -d)
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# The demo service, with the readiness delay in its first revision (no rollout history).
cat >"$work/seed.yaml" <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $SVC, namespace: $NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: $SVC}}
  template:
    metadata: {labels: {app: $SVC}}
    spec:
      containers:
      - name: server
        image: sim/mcp-server:1
        ports: [{containerPort: 3000}]
        env: [{name: SIM_READY_DELAY, value: "${READY_DELAY_MS}ms"}]
---
apiVersion: v1
kind: Service
metadata: {name: $SVC, namespace: $NS}
spec:
  selector: {app: $SVC}
  ports: [{name: http, port: 3000, targetPort: 3000}]
YAML
"$BIN/kube-sim" --kubeconfig "$work/kubeconfig" --seed "$work/seed.yaml" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 200); do grep -q '^kube-sim ready' "$work/sim.out" 2>/dev/null && break; sleep 0.05; done
export KUBECONFIG="$work/kubeconfig"
k() { "$KUBECTL" --cache-dir "$work/cache" -n "$NS" "$@"; }
k rollout status deployment/$SVC --timeout=60s >/dev/null

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

# The predecessor's diagnosis: the same checks, one kubectl process each, parsed with jq.
shell_diagnose() {
  k get deployment "$SVC" -o json | jq -e '.spec.replicas, (.status.readyReplicas // 0)' >/dev/null
  local pods
  pods=$(k get pods -l "app=$SVC" -o json)
  echo "$pods" | jq -r '.items[].status.containerStatuses[]? | (.state.waiting.reason // "running")' >/dev/null
  for pod in $(echo "$pods" | jq -r '.items[].metadata.name'); do
    k logs "$pod" --tail=50 2>/dev/null | grep -i error >/dev/null || true
  done
  k get endpoints "$SVC" -o json | jq '.subsets // [] | length' >/dev/null
  k get events --field-selector "involvedObject.name=$SVC" -o json | jq '.items | length' >/dev/null
  k get configmaps -o json | jq '.items | length' >/dev/null
}

time_cmd() { local t0; t0=$(now_ms); "$@" >/dev/null 2>&1 || true; echo $(( $(now_ms) - t0 )); }

shell_diagnose 2>/dev/null # warm kubectl's discovery cache, as an operator's would be
sd=$(for _ in $(seq "$N"); do time_cmd shell_diagnose; done | median)
"$BIN/self-heal" -o ndjson diagnose "$SVC" >"$work/diag.out" || { echo "diagnose of a healthy service failed" >&2; exit 1; }
rd=$(for _ in $(seq "$N"); do time_cmd "$BIN/self-heal" -o ndjson diagnose "$SVC"; done | median)

url=$(k get service $SVC -o 'jsonpath={.metadata.annotations.kube-sim\.self-heal\.dev/url}')
heal_times=()
for _ in $(seq "$N"); do
  k scale deployment/$SVC --replicas=0 >/dev/null
  k rollout status deployment/$SVC --timeout=60s >/dev/null
  t0=$(now_ms)
  # The breaker would (rightly) stop a service healed 15 times in a row: lift it here.
  code=0
  "$BIN/self-heal" -o ndjson --max-remediations 1000 heal "$SVC" "connect ECONNREFUSED" "$url/health" >"$work/heal.out" 2>&1 || code=$?
  t=$(( $(now_ms) - t0 ))
  [ "$code" = 0 ] || { echo "heal exited $code:" >&2; tail -n 3 "$work/heal.out" >&2; exit 1; }
  heal_times+=("$t")
done
hm=$(printf '%s\n' "${heal_times[@]}" | median)

echo "runs per figure:                 $N"
echo "diagnose, kubectl+jq procedure:  ${sd} ms (median)"
echo "diagnose, self-heal:             ${rd} ms (median)"
awk -v s="$sd" -v r="$rd" 'BEGIN { printf "speed-up:                        %.1fx\n", s / (r > 0 ? r : 1) }'
echo "heal scaled-to-0, wall:          ${hm} ms (median)"
echo "heal overhead beyond ${READY_DELAY_MS} ms readiness: $(( hm - READY_DELAY_MS )) ms"
